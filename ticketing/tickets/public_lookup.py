"""The public tracking page's domain side: number + email to a customer, and what they see."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal
from ticketing.auth.signed_links import email_digest
from ticketing.core.enums import Actor, EventKind, TicketStatus
from ticketing.core.fields import is_identifier
from ticketing.db.rls import bind_tracked_number, bind_tracked_ticket
from ticketing.outages.public import PublicOutage, linked_outage
from ticketing.tenants import repository as tenants_repo
from ticketing.tickets import lookup_repository as lookup_repo
from ticketing.tickets.numbering import MAX_TICKET_NUMBER, parse_ticket_number
from ticketing.tickets.schemas import TicketInfo
from ticketing.tickets.service import TicketService

MAX_EMAIL = 254
MAX_NUMBER_TEXT = 32
# Stands in for a missing address, so every path digests and compares the same amount.
_NO_ADDRESS = "\x00no-address"

# Customers are keyed per tenant: a ticket's owner is its tenant's customer of that id.

STATUS_LABELS: dict[TicketStatus, str] = {
    TicketStatus.OPEN: "Open",
    TicketStatus.IN_PROGRESS: "In progress",
    TicketStatus.PENDING: "Waiting for your reply",
    TicketStatus.RESOLVED: "Resolved",
    TicketStatus.CLOSED: "Closed",
}


@dataclass(frozen=True)
class TrackedTicket:
    """Whose ticket a tracking credential opened."""

    ticket_id: uuid.UUID
    principal: Principal


def _number(text: str) -> int:
    """The counter value to look up; 0 (never a ticket) for anything malformed."""
    if len(text) > MAX_NUMBER_TEXT:
        return 0
    number = parse_ticket_number(text)
    return number if number is not None and number <= MAX_TICKET_NUMBER else 0


async def find_by_number_and_email(
    session: AsyncSession, number_text: str, email: str
) -> TrackedTicket | None:
    """The ticket if `email` is its requester's or its customer's address, else None.

    Equal work on every path: one query whatever the input (a malformed number looks up 0),
    and two constant-time comparisons of fixed-length digests whether or not a row came back,
    so a wrong address, an unknown number and malformed input cost the same.
    """
    well_formed = 3 <= len(email) <= MAX_EMAIL and "@" in email
    given = email_digest(email[:MAX_EMAIL])
    # Always exactly one row (NULLs when there is no such ticket), so the driver and the result
    # handling do the same work whether the number exists or not.
    number = _number(number_text)
    # Before any principal exists: the database shows this number's ticket and owner only.
    bind_tracked_number(session, number)
    row = await lookup_repo.by_number(session, number)
    requester = email_digest(row.requester_email or _NO_ADDRESS)
    customer = email_digest(row.customer_email or _NO_ADDRESS)
    # Bitwise, not `or`: both comparisons always run.
    same = hmac.compare_digest(given, requester) | hmac.compare_digest(given, customer)
    # An erased ticket is closed to the tracking page (see tickets.erasure).
    if not (same & well_formed & (row.ticket_id is not None) & (row.erased_at is None)):
        return None
    assert row.ticket_id is not None and row.tenant_id and row.customer_id
    owner = Principal.customer(
        row.tenant_id, row.customer_id, name=row.requester_email or row.customer_email
    )
    return TrackedTicket(row.ticket_id, owner)


async def find_by_link(session: AsyncSession, ticket_id: uuid.UUID) -> TrackedTicket | None:
    """The owner of a ticket named by a signed link (the signature is the credential)."""
    bind_tracked_ticket(session, ticket_id)
    owner = await lookup_repo.link_owner(session, ticket_id)
    if owner is None:
        return None
    name = owner.requester_email or owner.customer_email
    return TrackedTicket(
        ticket_id, Principal.customer(owner.tenant_id, owner.customer_id, name=name)
    )


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    # "You" or "Support": agents' names and addresses never reach the customer.
    who: str
    text: str
    is_message: bool


@dataclass(frozen=True)
class CustomerView:
    """One ticket as its customer sees it on the tracking page."""

    ticket: TicketInfo
    tenant_name: str
    status_label: str
    updated_at: datetime
    timeline: list[TimelineEntry]
    # The outage the ticket is linked to, as the public sees it (title, ETA, updates).
    outage: PublicOutage | None = None


async def customer_view(session: AsyncSession, tracked: TrackedTicket) -> CustomerView:
    """The ticket and its public timeline, read as its customer (never internal notes)."""
    service = TicketService(session, tracked.principal)
    ticket = await service.get_ticket(tracked.ticket_id)
    messages, events = await service.timeline(tracked.ticket_id)
    entries = [
        TimelineEntry(
            m.created_at,
            "You" if m.author_actor is Actor.CUSTOMER else "Support",
            m.body,
            True,
        )
        for m in messages
        if not m.is_internal
    ]
    for event in events:
        if event.kind is EventKind.STATUS_CHANGED:
            to = event.data.get("to")
            label = STATUS_LABELS.get(TicketStatus(to)) if to in set(TicketStatus) else None
            if label:
                entries.append(
                    TimelineEntry(event.created_at, "Support", f"Status: {label}", False)
                )
        elif event.kind is EventKind.CREATED:
            entries.append(TimelineEntry(event.created_at, "You", "Ticket opened", False))
    entries.sort(key=lambda e: (e.at, e.is_message))
    tenant = await tenants_repo.get_tenant(session, ticket.tenant_id)
    return CustomerView(
        ticket=ticket,
        tenant_name=tenant.name if tenant else ticket.tenant_id,
        status_label=STATUS_LABELS[ticket.status],
        updated_at=max([ticket.created_at, *(e.at for e in entries)]),
        timeline=entries,
        outage=await linked_outage(session, ticket.tenant_id, ticket.outage),
    )


async def tenant_name(session: AsyncSession, tenant_id: str) -> str | None:
    """The name a tenant's tracking form is shown in, if there is such a tenant."""
    if not is_identifier(tenant_id):  # `?tenant=` is anyone's text, NUL included
        return None
    tenant = await tenants_repo.get_tenant(session, tenant_id)
    return tenant.name if tenant else None
