"""A new ticket of an affected customer: linked to the active outage and answered at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal
from ticketing.core import outbox_keys
from ticketing.core.enums import DONE_STATUSES, Actor, NoticeKind, TicketType
from ticketing.notifications import repository as notices_repo
from ticketing.notifications.repository import QueuedNotice
from ticketing.outages import repository as repo
from ticketing.tickets.numbering import format_ticket_number
from ticketing.tickets.schemas import TicketInfo
from ticketing.tickets.service import TicketService


def outage_actor(number: int) -> str:
    return f"outage {format_ticket_number(number)}"


async def link_new_ticket(
    session: AsyncSession, ticket: TicketInfo, now: datetime
) -> TicketInfo | None:
    """Link the ticket to the active outage its customer is affected by, stop its clocks and
    answer it with the outage's latest update; None when there is none (or it is linked)."""
    if ticket.outage or ticket.ticket_type is TicketType.OUTAGE_REPORT:
        return None
    if ticket.status in DONE_STATUSES:
        return None
    active = await repo.active_outage_for(session, ticket.tenant_id, ticket.customer_id)
    if active is None:
        return None
    actor = outage_actor(active.number)
    number = format_ticket_number(active.number)
    if not await repo.link_ticket(
        session, ticket.ticket_id, active.number, actor=actor, ticket_number=number, now=now
    ):
        return None
    tickets = TicketService(session, Principal.integration(ticket.tenant_id, name=actor))
    answered = await tickets.add_message(
        ticket.ticket_id, body=active.body, author_actor=Actor.TENANT, now=now
    )
    contacts = await notices_repo.ticket_contacts(session, ticket.ticket_id)
    # Keyed as the update's own notice to this customer: whoever queues first, the customer
    # hears this update once (the answer here, or the update's page, never both).
    await notices_repo.queue_notice(
        session,
        QueuedNotice(
            dedupe_key=outbox_keys.outage_notice(active.ticket_id, active.seq, ticket.customer_id),
            ticket_id=ticket.ticket_id,
            tenant_id=ticket.tenant_id,
            kind=NoticeKind.SUPPORT_REPLIED,
            recipient=contacts.customer,
            payload={"body": active.body, "outage": number},
        ),
    )
    return answered
