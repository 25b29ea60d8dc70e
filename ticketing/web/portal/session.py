"""The portal's session cookie and CSRF rules: who a request is signed in as (a customer of
one tenant), and whether a posted form is the session's own."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.tenants.portal_signin import PortalIdentity, PortalSignIn
from ticketing.web.deps import ApiPorts, ports_of
from ticketing.web.pages import clear_cookie, read_form, set_cookie, tokens_match
from ticketing.web.portal.config import PortalConfig
from ticketing.web.portal.views import KIT, render

# Not the desk's cookie names, and scoped to /portal: a desk session never opens the portal.
COOKIE = "portal_session"
# The sign-in forms' token before any session exists: double-submitted (cookie and field).
FORM_COOKIE = "portal_form"
PATH = "/portal"
MAX_FORM_BYTES = 64 * 1024
EXPIRED = "This form had expired or did not come from this portal. Nothing was changed."


class Portal:
    """The config and the ports, as each portal route needs them."""

    def __init__(self, config: PortalConfig) -> None:
        self.config = config

    def ports(self, request: Request) -> ApiPorts:
        return ports_of(request)

    def signin(self, session: AsyncSession) -> PortalSignIn:
        """The sign-in with this portal's secret, rules and clock."""
        return PortalSignIn(
            session, secret=self.config.secret, rules=self.config.rules, clock=self.config.clock
        )

    async def identity(self, request: Request) -> PortalIdentity | None:
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        async with self.ports(request).sessions() as session:
            return await self.signin(session).identity(cookie)

    async def tenant_name(self, request: Request, tenant_id: str) -> str | None:
        async with self.ports(request).sessions() as session:
            return await self.signin(session).tenant_name(tenant_id)

    def set_session(self, response: Response, cookie: str) -> None:
        # No max-age: a browser-session cookie; the server ends it after 8 h idle or 7 days.
        set_cookie(response, COOKIE, cookie, path=PATH, secure=self.config.secure_cookies)

    def clear_session(self, response: Response) -> None:
        clear_cookie(response, COOKIE, path=PATH, secure=self.config.secure_cookies)

    def set_form_token(self, response: Response, token: str) -> None:
        set_cookie(response, FORM_COOKIE, token, path=PATH, secure=self.config.secure_cookies)

    async def posted(
        self, request: Request, me: PortalIdentity, *, limit: int = MAX_FORM_BYTES
    ) -> dict[str, str] | Response:
        """The form, if it carries the session's CSRF token; else the refusal (403)."""
        form = await read_form(request, limit, max_fields=8)
        if form is None or not tokens_match(me.csrf_token, form.get("csrf")):
            return refused(me)
        return form


def refused(me: PortalIdentity | None, org: str | None = None) -> Response:
    html = render(
        "message.html",
        me,
        org=org,
        page_title="Form expired",
        heading="Form expired",
        message=EXPIRED,
    )
    return KIT.response(html, 403)


def to_portal(tenant_id: str | None) -> Response:
    target = f"/portal?tenant={tenant_id}" if tenant_id else "/portal"
    return RedirectResponse(target, status_code=303)


def not_found(me: PortalIdentity | None, org: str | None = None) -> Response:
    """One page for a missing ticket, another customer's and another tenant's."""
    html = render(
        "message.html",
        me,
        org=org,
        page_title="Not found",
        heading="Not found",
        message="There is no ticket with this number among yours.",
    )
    return KIT.response(html, 404)
