"""The tracking page's two reads: a ticket by number with its owner's addresses, and the owner
of a ticket named by a signed link."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.tenants.models import Customer
from ticketing.tickets.models import Ticket

_OWNER = (Customer.tenant_id == Ticket.tenant_id) & (Customer.id == Ticket.customer_id)


@dataclass(frozen=True)
class NumberRow:
    """All None when there is no such ticket: the read returns one row either way."""

    ticket_id: uuid.UUID | None
    tenant_id: str | None
    customer_id: str | None
    requester_email: str | None
    customer_email: str | None
    erased_at: datetime | None


@dataclass(frozen=True)
class LinkOwner:
    tenant_id: str
    customer_id: str
    requester_email: str | None
    customer_email: str | None


async def by_number(session: AsyncSession, number: int) -> NumberRow:
    """Always exactly one row (NULLs when there is no such ticket), so the driver and the
    result handling do the same work whether the number exists or not."""
    wanted = select(literal(number).label("number")).subquery()
    row = (
        await session.execute(
            select(
                Ticket.id,
                Ticket.tenant_id,
                Ticket.customer_id,
                Ticket.requester_email,
                Customer.email,
                Ticket.erased_at,
            )
            .select_from(wanted)
            .outerjoin(Ticket, Ticket.number == wanted.c.number)
            .outerjoin(Customer, _OWNER)
        )
    ).one()
    return NumberRow(*row)


async def link_owner(session: AsyncSession, ticket_id: uuid.UUID) -> LinkOwner | None:
    """The ticket's owner, unless the ticket was erased: every link issued before an erasure
    stops opening it."""
    row = (
        await session.execute(
            select(Ticket.tenant_id, Ticket.customer_id, Ticket.requester_email, Customer.email)
            .join(Customer, _OWNER)
            .where(Ticket.id == ticket_id, Ticket.erased_at.is_(None))
        )
    ).one_or_none()
    return None if row is None else LinkOwner(*row)
