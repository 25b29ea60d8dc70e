"""The signed-in customer's pages: "My tickets", one ticket (public timeline, attachments,
reply) and an attachment's download, all read as the customer's own Principal."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from ticketing.core.errors import NotFound, TicketingError, TicketNotFound
from ticketing.tenants.portal_signin import PortalIdentity
from ticketing.tickets.public_lookup import TrackedTicket, customer_view
from ticketing.tickets.service import TicketService
from ticketing.web.deps import ticket_flows
from ticketing.web.pages.uploads import download_response
from ticketing.web.portal.session import Portal, not_found, to_portal
from ticketing.web.portal.views import KIT, render

PAGE_SIZE = 50
MAX_MESSAGE_CHARS = 20_000
MESSAGE_BYTES = 256 * 1024


async def my_tickets(
    portal: Portal, request: Request, me: PortalIdentity, *, cursor: str = ""
) -> Response:
    """The customer's own tickets in the session's tenant, newest first."""
    async with portal.ports(request).sessions() as session:
        service = TicketService(session, me.principal)
        try:
            page = await service.list_tickets(limit=PAGE_SIZE, cursor=cursor or None)
        except TicketingError:
            page = await service.list_tickets(limit=PAGE_SIZE)
    org = await portal.tenant_name(request, me.tenant_id)
    next_url = (
        f"/portal?tenant={quote(me.tenant_id)}&cursor={quote(page.next_cursor)}"
        if page.next_cursor
        else None
    )
    html = render(
        "tickets.html", me, org=org, page_title="My tickets", tickets=page.items, next_url=next_url
    )
    return KIT.response(html)


async def ticket_page(
    portal: Portal,
    request: Request,
    me: PortalIdentity,
    number: str,
    *,
    status: int = 200,
    error: str | None = None,
    body: str = "",
) -> Response:
    async with portal.ports(request).sessions() as session:
        try:
            ticket = await TicketService(session, me.principal).get_ticket(number[:64])
        except (NotFound, TicketingError):
            # A malformed number, a missing ticket, another customer's or tenant's: one page.
            return not_found(me, await portal.tenant_name(request, me.tenant_id))
        view = await customer_view(session, TrackedTicket(ticket.ticket_id, me.principal))
    port = portal.config.attachments
    sessions = portal.ports(request).sessions
    files = await port.of_ticket(sessions, me.principal, ticket) if port is not None else []
    context: dict[str, Any] = {
        "page_title": view.ticket.ticket_number,
        "view": view,
        "t": view.ticket,
        "attachments": files,
        "sent": request.query_params.get("sent") == "1" and error is None,
        "error": error,
        "body": body,
    }
    return KIT.response(render("ticket.html", me, org=view.tenant_name, **context), status)


def register(router: APIRouter, portal: Portal) -> None:
    @router.get("/portal/tickets/{number}")
    async def show(request: Request, number: str) -> Response:
        me = await portal.identity(request)
        if me is None:
            return to_portal(None)
        return await ticket_page(portal, request, me, number)

    @router.post("/portal/tickets/{number}/reply")
    async def reply(request: Request, number: str) -> Response:
        me = await portal.identity(request)
        if me is None:
            return to_portal(None)
        form = await portal.posted(request, me, limit=MESSAGE_BYTES)
        if isinstance(form, Response):
            return form
        body = form.get("body", "")
        if not body.strip() or len(body) > MAX_MESSAGE_CHARS:
            message = "Write a message (at most 20,000 characters)."
            return await ticket_page(
                portal, request, me, number, status=422, error=message, body=body
            )
        try:
            ticket = await ticket_flows(portal.ports(request), me.principal).reply(
                number[:64], body=body
            )
        except (NotFound, TicketNotFound):
            return not_found(me, await portal.tenant_name(request, me.tenant_id))
        except TicketingError as error:
            return await ticket_page(
                portal, request, me, number, status=422, error=error.message, body=body
            )
        return RedirectResponse(f"/portal/tickets/{ticket.ticket_number}?sent=1", status_code=303)

    @router.get("/portal/tickets/{number}/attachments/{attachment_id}")
    async def download(request: Request, number: str, attachment_id: str) -> Response:
        me = await portal.identity(request)
        if me is None:
            return to_portal(None)
        port = portal.config.attachments
        try:
            wanted = uuid.UUID(attachment_id)
        except ValueError:
            wanted = None
        found = (
            await port.download(portal.ports(request).sessions, me.principal, number[:64], wanted)
            if port is not None and wanted is not None
            else None
        )
        if found is None:
            return not_found(me, await portal.tenant_name(request, me.tenant_id))
        return download_response(found)
