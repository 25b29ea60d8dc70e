"""GET/POST /track, GET /track/{token}, POST /track/reply: the customer's tracking pages."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from ticketing.auth.lookup_limits import LookupLimiter
from ticketing.auth.signed_links import new_browser_id
from ticketing.core.enums import TicketStatus
from ticketing.core.errors import TicketingError
from ticketing.runtime.settings import Settings
from ticketing.tickets.flows import TicketFlows
from ticketing.tickets.public_lookup import (
    TrackedTicket,
    customer_view,
    find_by_link,
    find_by_number_and_email,
    tenant_name,
)
from ticketing.web.pages import read_form, set_cookie
from ticketing.web.tracking.config import TrackingConfig, TrackingPorts, app_state_ports
from ticketing.web.tracking.pages import lookup_form, page, ticket_page

COOKIE = "track_browser"
MAX_LOOKUP_BYTES = 4096
MAX_REPLY_BYTES = 256 * 1024
MAX_REPLY_CHARS = 20_000
# One message for a wrong address, an unknown number, malformed input and a rate limit, so
# none of them tells an outsider anything.
NOT_FOUND = (
    "We could not find a ticket with that number and email address. Check both and try again "
    "in a few minutes."
)
EXPIRED_FORM = "This form had expired. Please enter your details again."
BAD_LINK = "This link is not valid or has expired. Enter your ticket number and email address."
REPLY_SENT = "Thank you. Your reply was added to the ticket."
CONFIRMED = "Thank you for confirming. Your ticket is closed; reply to reopen it."
NOT_CONFIRMABLE = "This ticket is not waiting for your confirmation."


def tracking_router(
    config: TrackingConfig | None = None,
    *,
    ports: Callable[[Request], Awaitable[TrackingPorts]] = app_state_ports,
) -> APIRouter:
    """The public tracking pages; mount with `app.include_router(tracking_router())`.

    `config` defaults to one from the environment (TICKETING_SECRET_KEY, or the embedded
    stack's generated key). Lookups are rate-limited in the database, shared by every process
    (see TrackingLimits).
    """
    cfg = config or TrackingConfig.from_settings(Settings())
    tokens = cfg.tokens
    limiter = LookupLimiter(cfg.limits, tokens.secret)
    router = APIRouter(tags=["tracking"], include_in_schema=False)
    Ports = Depends(ports)  # noqa: N806 - a FastAPI dependency marker

    def respond(html: str, status: int, browser: str) -> Response:
        response = page(html, status)
        set_cookie(
            response, COOKIE, browser, max_age=12 * 3600, path="/track", secure=cfg.secure_cookies
        )
        return response

    def valid_form(request: Request, form: dict[str, str]) -> bool:
        return tokens.check_form_token(request.cookies.get(COOKIE), form.get("csrf"))

    @router.get("/track")
    async def track_form(
        request: Request, p: TrackingPorts = Ports, tenant: str = "", number: str = ""
    ) -> Response:
        browser = browser_of(request)
        async with p.sessions() as session:
            org = await tenant_name(session, tenant)
        html = lookup_form(
            csrf=tokens.form_token(browser), org=org, tenant=tenant, number=number[:32]
        )
        return respond(html, 200, browser)

    @router.post("/track")
    async def track_lookup(request: Request, p: TrackingPorts = Ports) -> Response:
        form = await read_form(request, MAX_LOOKUP_BYTES)
        browser = browser_of(request)
        csrf = tokens.form_token(browser)
        if form is None:
            # Unreadable is one more kind of malformed input: the same answer as a mismatch.
            return respond(
                lookup_form(csrf=csrf, org=None, tenant="", message=NOT_FOUND), 200, browser
            )
        tenant = form.get("tenant", "")[:64]
        if not valid_form(request, form):
            async with p.sessions() as session:
                org = await tenant_name(session, tenant)
            return respond(
                lookup_form(csrf=csrf, org=org, tenant=tenant, message=EXPIRED_FORM), 403, browser
            )
        number, email = form.get("number", ""), form.get("email", "")
        address = request.client.host if request.client else "unknown"
        started = time.monotonic()
        async with p.sessions() as counting:
            allowed = await limiter.allow(counting, address=address, email=email, number=number)
        async with p.sessions() as session:
            tracked = await find_by_number_and_email(session, number, email) if allowed else None
            # The database's own jitter (a row found or not) is below this floor: every answer
            # to a lookup, limited or not, leaves no sooner than `lookup_floor` after it began.
            await asyncio.sleep(max(0.0, started + cfg.lookup_floor - time.monotonic()))
            if tracked is not None:
                view = await customer_view(session, tracked)
                token = tokens.link(tracked.ticket_id, expires=_now() + cfg.page_lifetime)
                return respond(ticket_page(view, csrf=csrf, token=token), 200, browser)
            org = await tenant_name(session, tenant)
        return respond(
            lookup_form(csrf=csrf, org=org, tenant=tenant, message=NOT_FOUND), 200, browser
        )

    async def linked_form(
        request: Request, p: TrackingPorts, limit: int
    ) -> tuple[TrackedTicket, dict[str, str], str, str] | Response:
        """A form posted from a ticket's page, its signed link and form token checked: the
        ticket, the form, the browser and the link; else the refusal to send."""
        form = await read_form(request, limit) or {}
        browser = browser_of(request)
        token = form.get("token", "")
        tracked = await _open(p, tokens.open_link(token))
        if tracked is None or not valid_form(request, form):
            message = BAD_LINK if tracked is None else EXPIRED_FORM
            html = lookup_form(
                csrf=tokens.form_token(browser), org=None, tenant="", message=message
            )
            return respond(html, 403, browser)
        return tracked, form, browser, token

    async def ticket_again(
        p: TrackingPorts,
        posted: tuple[TrackedTicket, dict[str, str], str, str],
        message: str,
        status: int,
    ) -> Response:
        """The ticket's page as it now is, with why the posted form did nothing."""
        tracked, _, browser, token = posted
        async with p.sessions() as session:
            view = await customer_view(session, tracked)
        html = ticket_page(view, csrf=tokens.form_token(browser), token=token, message=message)
        return respond(html, status, browser)

    @router.post("/track/reply")
    async def track_reply(request: Request, p: TrackingPorts = Ports) -> Response:
        posted = await linked_form(request, p, MAX_REPLY_BYTES)
        if isinstance(posted, Response):
            return posted
        tracked, form, _, token = posted
        body = form.get("body", "")
        flows = TicketFlows(p.sessions, tracked.principal, watchers=p.watchers, notices=p.notices)
        try:
            if len(body) > MAX_REPLY_CHARS:
                raise TicketingError(f"body: at most {MAX_REPLY_CHARS} characters", field="body")
            await flows.reply(tracked.ticket_id, body=body)
        except TicketingError as error:
            return await ticket_again(p, posted, _reply_problem(error), 422)
        return RedirectResponse(f"/track/{token}?sent=1", status_code=303)

    @router.post("/track/confirm")
    async def track_confirm(request: Request, p: TrackingPorts = Ports) -> Response:
        """The customer confirms a resolution: the ticket closes (a customer may make only
        this one status change)."""
        posted = await linked_form(request, p, MAX_LOOKUP_BYTES)
        if isinstance(posted, Response):
            return posted
        tracked, _, _, token = posted
        flows = TicketFlows(p.sessions, tracked.principal, watchers=p.watchers, notices=p.notices)
        try:
            await flows.change_status(tracked.ticket_id, TicketStatus.CLOSED)
        except TicketingError:
            # Reopened or closed meanwhile: show the ticket as it now is.
            return await ticket_again(p, posted, NOT_CONFIRMABLE, 409)
        return RedirectResponse(f"/track/{token}?closed=1", status_code=303)

    @router.get("/track/{token}")
    async def track_link(
        request: Request, token: str, p: TrackingPorts = Ports, sent: str = "", closed: str = ""
    ) -> Response:
        browser = browser_of(request)
        csrf = tokens.form_token(browser)
        tracked = await _open(p, tokens.open_link(token))
        if tracked is None:
            return respond(
                lookup_form(csrf=csrf, org=None, tenant="", message=BAD_LINK), 404, browser
            )
        async with p.sessions() as session:
            view = await customer_view(session, tracked)
        message = CONFIRMED if closed else REPLY_SENT if sent else None
        html = ticket_page(view, csrf=csrf, token=token, message=message, ok=message is not None)
        return respond(html, 200, browser)

    return router


def browser_of(request: Request) -> str:
    """The browser's id from its cookie (a new one if it has none): what form tokens bind to."""
    browser = request.cookies.get(COOKIE)
    return browser if browser and len(browser) <= 64 else new_browser_id()


async def _open(ports: TrackingPorts, ticket_id: uuid.UUID | None) -> TrackedTicket | None:
    if ticket_id is None:
        return None
    async with ports.sessions() as session:
        return await find_by_link(session, ticket_id)


def _reply_problem(error: TicketingError) -> str:
    if error.field == "body":
        return "Please write a message (at most 20,000 characters) before sending."
    return "Your reply could not be added to this ticket."


def _now() -> datetime:
    return datetime.now(UTC)
