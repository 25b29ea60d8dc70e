"""GET/POST /desk/login and POST /desk/logout."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from ticketing.teams.signin import DeskSignIn, SignInOutcome
from ticketing.web.desk.session import COOKIE, LOGIN_COOKIE, Desk, refused, to_login
from ticketing.web.desk.views import KIT, render
from ticketing.web.pages import new_token, read_form, tokens_match

# One message for a wrong password and an unknown email (and the same status): it tells
# nobody which addresses have a login.
REFUSED = "The email or the password is not right."
THROTTLED = "Too many failed sign-ins for this email. Try again in 15 minutes."
MAX_LOGIN_BYTES = 4096


def login_page(
    desk: Desk, token: str, *, status: int = 200, message: str | None = None, email: str = ""
) -> Response:
    html = render(
        "login.html", None, page_title="Sign in", csrf=token, message=message, email=email
    )
    response = KIT.response(html, status)
    desk.set_login_token(response, token)
    return response


def register(router: APIRouter, desk: Desk) -> None:
    @router.get("/desk/login")
    async def login_form(request: Request) -> Response:
        if await desk.identity(request) is not None:
            return RedirectResponse("/desk", status_code=303)
        return login_page(desk, request.cookies.get(LOGIN_COOKIE) or new_token())

    @router.post("/desk/login")
    async def login(request: Request) -> Response:
        form = await read_form(request, MAX_LOGIN_BYTES) or {}
        cookie = request.cookies.get(LOGIN_COOKIE)
        if not tokens_match(cookie, form.get("csrf")):
            return refused(None)
        assert cookie is not None
        email, password = form.get("email", ""), form.get("password", "")
        async with desk.ports(request).sessions() as session:
            result = await DeskSignIn(
                session, secret=desk.config.secret, rules=desk.config.rules
            ).sign_in(email, password, replacing=request.cookies.get(COOKIE))
        if result.outcome is SignInOutcome.THROTTLED:
            return login_page(desk, cookie, status=429, message=THROTTLED, email=email[:254])
        if result.outcome is SignInOutcome.REFUSED or result.token is None:
            return login_page(desk, cookie, status=401, message=REFUSED, email=email[:254])
        response = RedirectResponse("/desk", status_code=303)
        desk.set_session(response, result.token)
        return response

    @router.post("/desk/logout")
    async def logout(request: Request) -> Response:
        me = await desk.identity(request)
        if me is None:
            return to_login()
        posted = await desk.posted(request, me)
        if isinstance(posted, Response):
            return posted
        async with desk.ports(request).sessions() as session:
            await DeskSignIn(session, secret=desk.config.secret).sign_out(
                request.cookies.get(COOKIE)
            )
        response = to_login()
        desk.clear_session(response)
        return response
