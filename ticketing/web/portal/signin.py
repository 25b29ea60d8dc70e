"""GET /portal, POST /portal/link, GET/POST /portal/signin and POST /portal/logout: asking for
a link by email, confirming it with a button, and signing out."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request, Response
from starlette.background import BackgroundTask

from ticketing.web.pages import new_token, read_form, tokens_match
from ticketing.web.portal.session import COOKIE, FORM_COOKIE, Portal, refused, to_portal
from ticketing.web.portal.tickets import my_tickets
from ticketing.web.portal.views import KIT, render

MAX_SIGNIN_BYTES = 4096
# One answer whether the address is a customer's, an unknown one, or one that had its five
# links this hour: it tells nobody which addresses are customers.
SENT = (
    "If {email} belongs to one of our customers, a sign-in link is on its way to it. "
    "The link works once, for 15 minutes. Asked again, only the newest link works."
)
BAD_EMAIL = "Enter your email address, for example name@example.com."
BAD_LINK = "This sign-in link was used already, was replaced by a newer one, or has expired."


def _form_token(request: Request) -> str:
    token = request.cookies.get(FORM_COOKIE)
    return token if token and len(token) <= 64 else new_token()


def register(router: APIRouter, portal: Portal) -> None:
    def email_page(
        org: str,
        tenant: str,
        token: str,
        *,
        status: int = 200,
        sent: str | None = None,
        error: str | None = None,
        email: str = "",
    ) -> Response:
        html = render(
            "signin.html",
            None,
            org=org,
            page_title="Sign in",
            tenant=tenant,
            csrf=token,
            sent=sent,
            error=error,
            email=email,
        )
        response = KIT.response(html, status)
        portal.set_form_token(response, token)
        return response

    def no_portal() -> Response:
        html = render(
            "message.html",
            None,
            org=None,
            page_title="Not found",
            heading="Not found",
            message="There is no customer portal here. Use the link your provider gave you.",
        )
        return KIT.response(html, 404)

    @router.get("/portal")
    async def home(request: Request, tenant: str = "", cursor: str = "") -> Response:
        me = await portal.identity(request)
        if me is not None and tenant in ("", me.tenant_id):
            if not tenant:
                return to_portal(me.tenant_id)
            return await my_tickets(portal, request, me, cursor=cursor[:64])
        org = await portal.tenant_name(request, tenant[:64])
        if org is None:
            return no_portal()
        return email_page(org, tenant, _form_token(request))

    @router.post("/portal/link")
    async def send_link(request: Request) -> Response:
        started = time.monotonic()
        form = await read_form(request, MAX_SIGNIN_BYTES) or {}
        tenant = form.get("tenant", "")[:64]
        org = await portal.tenant_name(request, tenant)
        if org is None:
            return no_portal()
        cookie = request.cookies.get(FORM_COOKIE)
        if not tokens_match(cookie, form.get("csrf")):
            return refused(None, org)
        assert cookie is not None
        email = form.get("email", "").strip()[:254]
        local, at, domain = email.partition("@")
        if not (local and at and "." in domain and " " not in email):
            return email_page(org, tenant, cookie, status=422, error=BAD_EMAIL, email=email)
        async with portal.ports(request).sessions() as session:
            link = await portal.signin(session).request_link(tenant, email)
        # The database's work differs a little with and without a customer: every answer
        # leaves no sooner than the floor after the request began, and the mail goes after it.
        await asyncio.sleep(max(0.0, started + portal.config.answer_floor - time.monotonic()))
        response = email_page(org, tenant, cookie, sent=SENT.format(email=email))
        if link is not None:
            minutes = int(portal.config.rules.link_lifetime.total_seconds() // 60)
            response.background = BackgroundTask(
                portal.config.mail.send,
                recipient=link.recipient,
                org=org,
                url=f"{portal.config.public_url}/portal/signin/{link.token}",
                minutes=minutes,
            )
        return response

    def link_page(org: str | None, token: str, link: str, *, status: int = 200) -> Response:
        valid = status == 200
        html = render(
            "confirm.html",
            None,
            org=org,
            page_title="Sign in" if valid else "Link not valid",
            csrf=token,
            link=link if valid else "",
            message=None if valid else BAD_LINK,
        )
        response = KIT.response(html, status)
        portal.set_form_token(response, token)
        return response

    @router.get("/portal/signin/{link}")
    async def confirm(request: Request, link: str) -> Response:
        """Only shows the button: mail scanners follow links, and a GET signs nobody in."""
        async with portal.ports(request).sessions() as session:
            tenant = await portal.signin(session).link_tenant(link)
        if tenant is None:
            return link_page(None, _form_token(request), "", status=410)
        org = await portal.tenant_name(request, tenant)
        return link_page(org, _form_token(request), link)

    @router.post("/portal/signin")
    async def sign_in(request: Request) -> Response:
        form = await read_form(request, MAX_SIGNIN_BYTES) or {}
        cookie = request.cookies.get(FORM_COOKIE)
        if not tokens_match(cookie, form.get("csrf")):
            return refused(None)
        assert cookie is not None
        async with portal.ports(request).sessions() as session:
            signin = portal.signin(session)
            opened = await signin.sign_in(
                form.get("link", ""), replacing=request.cookies.get(COOKIE)
            )
            me = await signin.identity(opened) if opened else None
        if opened is None or me is None:
            return link_page(None, cookie, "", status=410)
        response = to_portal(me.tenant_id)
        portal.set_session(response, opened)
        return response

    @router.post("/portal/logout")
    async def logout(request: Request) -> Response:
        me = await portal.identity(request)
        if me is None:
            return to_portal(None)
        posted = await portal.posted(request, me)
        if isinstance(posted, Response):
            return posted
        async with portal.ports(request).sessions() as session:
            await portal.signin(session).sign_out(request.cookies.get(COOKIE))
        response = to_portal(me.tenant_id)
        portal.clear_session(response)
        return response
