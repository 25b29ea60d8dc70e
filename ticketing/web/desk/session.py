"""The desk's session cookie and CSRF rules: who a request is signed in as, and whether a
posted form is the session's own."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from ticketing.teams.signin import DeskIdentity, DeskSignIn
from ticketing.web.deps import ApiPorts, ports_of
from ticketing.web.desk.config import DeskConfig
from ticketing.web.desk.views import KIT, render
from ticketing.web.pages import clear_cookie, read_form, set_cookie, tokens_match

COOKIE = "desk_session"
# The sign-in form's token before any session exists: double-submitted (cookie and field).
LOGIN_COOKIE = "desk_login"
PATH = "/desk"
MAX_FORM_BYTES = 64 * 1024
EXPIRED = "This form had expired or did not come from the desk. Nothing was changed."


class Desk:
    """The config and the ports, as each desk route needs them."""

    def __init__(self, config: DeskConfig) -> None:
        self.config = config

    def ports(self, request: Request) -> ApiPorts:
        return ports_of(request)

    async def identity(self, request: Request) -> DeskIdentity | None:
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        async with self.ports(request).sessions() as session:
            return await DeskSignIn(
                session, secret=self.config.secret, rules=self.config.rules
            ).identity(token)

    def set_session(self, response: Response, token: str) -> None:
        # No max-age: a browser-session cookie; the server ends it after 8 h idle or 7 days.
        set_cookie(response, COOKIE, token, path=PATH, secure=self.config.secure_cookies)

    def clear_session(self, response: Response) -> None:
        clear_cookie(response, COOKIE, path=PATH, secure=self.config.secure_cookies)

    def set_login_token(self, response: Response, token: str) -> None:
        set_cookie(response, LOGIN_COOKIE, token, path=PATH, secure=self.config.secure_cookies)

    async def posted(
        self, request: Request, me: DeskIdentity, *, limit: int = MAX_FORM_BYTES
    ) -> dict[str, str] | Response:
        """The form, if it carries the session's CSRF token; else the refusal (403, nothing
        changed)."""
        form = await read_form(request, limit, max_fields=16)
        if form is None or not tokens_match(me.csrf_token, form.get("csrf")):
            return refused(me)
        return form


def refused(me: DeskIdentity | None) -> Response:
    html = render(
        "message.html", me, page_title="Form expired", heading="Form expired", message=EXPIRED
    )
    return KIT.response(html, 403)


def to_login() -> Response:
    return RedirectResponse("/desk/login", status_code=303)


def not_found(me: DeskIdentity | None) -> Response:
    """One page for a missing ticket and another tenant's: nothing tells them apart."""
    html = render(
        "message.html",
        me,
        page_title="Not found",
        heading="Not found",
        message="There is no ticket with this number.",
    )
    return KIT.response(html, 404)
