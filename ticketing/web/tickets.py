"""/api/v1/tickets: create, list, show, reply or note, and change status, priority or
assignment, each through the ticket flows."""

from __future__ import annotations

import uuid
from pathlib import Path as FilePath
from typing import Annotated
from urllib.parse import quote

from fastapi import Header, Path, Query, Response

from ticketing.core.enums import Priority, TicketStatus, TicketType
from ticketing.readmodels.ticket_detail import TicketDetail, ticket_detail
from ticketing.runtime.settings import Settings
from ticketing.tickets.attachments.service import AttachmentService
from ticketing.tickets.attachments.store import AttachmentStores
from ticketing.tickets.creation import HTTP_DOOR
from ticketing.tickets.schemas import Merged, TicketInfo, TicketPage
from ticketing.tickets.service import TicketService
from ticketing.tickets.share import ShareText, share_text
from ticketing.web.deps import Caller, Ports, ticket_flows
from ticketing.web.routing import api_router
from ticketing.web.schemas import MergeRequest, NewMessage, NewTicket, TicketChange

router = api_router("/api/v1/tickets", "tickets")
TicketNumber = Annotated[
    str, Path(min_length=1, max_length=64, description="TKT-000123 (or the ticket's UUID).")
]
SearchText = Annotated[str | None, Query(min_length=1, max_length=200)]


@router.post("", status_code=201, summary="Create a ticket for the key's tenant")
async def create_ticket(
    body: NewTicket,
    caller: Caller,
    ports: Ports,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description="A retry with the same key and body returns the same ticket (201 "
            "again); the key with another body is refused (422 naming `Idempotency-Key`).",
        ),
    ] = None,
) -> TicketInfo:
    return await ticket_flows(ports, caller).create(
        body.to_request(idempotency_key), rules=HTTP_DOOR
    )


@router.get("", summary="List tickets the key may see, newest first")
async def list_tickets(
    caller: Caller,
    ports: Ports,
    status: TicketStatus | None = None,
    priority: Priority | None = None,
    ticket_type: TicketType | None = None,
    assigned_to: SearchText = None,
    assigned_team: SearchText = None,
    breached: bool | None = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="A ticket number; an email's start (text with @); else every word "
            "in the title (whole words, any case). Also a customer id, exactly. Newest first.",
        ),
    ] = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> TicketPage:
    async with ports.sessions() as session:
        return await TicketService(session, caller).list_tickets(
            status=status,
            priority=priority,
            ticket_type=ticket_type.value if ticket_type else None,
            assigned_to=assigned_to,
            assigned_team=assigned_team,
            breached=breached,
            search=q,
            limit=limit,
            cursor=cursor,
        )


@router.get("/{number}", summary="A ticket with its timeline")
async def show_ticket(number: TicketNumber, caller: Caller, ports: Ports) -> TicketDetail:
    async with ports.sessions() as session:
        return await ticket_detail(session, caller, number)


@router.get("/{number}/share", summary="A ready message for the customer, text and Markdown")
async def share_ticket(number: TicketNumber, caller: Caller, ports: Ports) -> ShareText:
    async with ports.sessions() as session:
        ticket = await TicketService(session, caller).get_ticket(number)
    return share_text(ticket, Settings().public_url)


@router.post("/{number}/messages", status_code=201, summary="A public reply or internal note")
async def add_message(
    number: TicketNumber, body: NewMessage, caller: Caller, ports: Ports
) -> TicketInfo:
    return await ticket_flows(ports, caller).reply(
        number, body=body.body, is_internal=not body.public
    )


@router.post("/{number}/merge", summary="Merge this duplicate into another ticket")
async def merge_ticket(
    number: TicketNumber, body: MergeRequest, caller: Caller, ports: Ports
) -> Merged:
    """Its messages move to `into`, it closes with a pointer and its customer hears once;
    again with the same `into` changes nothing (`merged_now` false). Both tickets must be
    the key's to see and of one customer (a tenant admin's key may merge across customers)."""
    return await ticket_flows(ports, caller).merge(number, body.into)


@router.patch("/{number}", summary="Change status, priority, type or assignment")
async def change_ticket(
    number: TicketNumber, change: TicketChange, caller: Caller, ports: Ports
) -> TicketInfo:
    """Each named change is its own committed step, in the order status, priority, type,
    assignment; a refused step leaves the earlier ones done."""
    flows = ticket_flows(ports, caller)
    given = change.model_fields_set
    async with ports.sessions() as session:
        ticket = await TicketService(session, caller).get_ticket(number)
    if change.status is not None:
        ticket = await flows.change_status(ticket.ticket_id, change.status)
    if change.priority is not None:
        ticket = await flows.change_priority(ticket.ticket_id, change.priority)
    if change.ticket_type is not None:
        ticket = await flows.change_type(ticket.ticket_id, change.ticket_type)
    if given & {"assigned_to", "assigned_team"}:
        ticket = await flows.assign(
            ticket.ticket_id,
            assigned_to=change.assigned_to if "assigned_to" in given else ticket.assigned_to,
            assigned_team=change.assigned_team,
        )
    return ticket


@router.get(
    "/{number}/attachments/{attachment_id}",
    summary="Download one of the ticket's attachments",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file."}},
)
async def download_attachment(
    number: TicketNumber, attachment_id: uuid.UUID, caller: Caller, ports: Ports
) -> Response:
    """Under the ticket's own scoping: another scope's ticket or file is a 404."""
    settings = Settings()
    stores = AttachmentStores.configured(
        settings.attachment_store,
        settings.attachment_dir or FilePath(settings.home) / "attachments",
    )
    async with ports.sessions() as session:
        info, data = await AttachmentService(session, caller, stores).download(
            number, attachment_id
        )
    return Response(
        content=data,
        media_type=info.content_type,
        headers={
            # Always a download, never rendered in the API's origin.
            "Content-Disposition": content_disposition(info.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback and the exact name as RFC 5987 UTF-8."""
    fallback = (
        "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename)
        or "attachment"
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
