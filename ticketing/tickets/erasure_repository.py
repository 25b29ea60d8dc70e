"""The statements of an erasure: who a ticket's customer side is, and the redactions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.core.enums import Actor
from ticketing.notifications.models import NoticeStatus, Notification
from ticketing.tenants.models import Customer
from ticketing.tickets.models import TicketEvent, TicketMessage


def _changed(result: object) -> bool:
    return bool(getattr(result, "rowcount", 0))


async def customer_authors(session: AsyncSession, ticket_id: uuid.UUID) -> list[str]:
    """Every author of a customer message on the ticket (a mail reply's sender included)."""
    authors = await session.scalars(
        select(TicketMessage.author).where(
            TicketMessage.ticket_id == ticket_id,
            TicketMessage.author_actor == Actor.CUSTOMER,
            TicketMessage.author.is_not(None),
        )
    )
    return [author for author in authors if author is not None]


async def customer_email(session: AsyncSession, tenant_id: str, customer_id: str) -> str | None:
    return await session.scalar(
        select(Customer.email).where(Customer.tenant_id == tenant_id, Customer.id == customer_id)
    )


async def redact_actors(
    session: AsyncSession, ticket_id: uuid.UUID, people: set[str], redacted: str
) -> bool:
    """Those identities as message authors and event actors become `redacted`."""
    messages = await session.execute(
        update(TicketMessage)
        .where(TicketMessage.ticket_id == ticket_id, TicketMessage.author.in_(people))
        .values(author=redacted)
    )
    events = await session.execute(
        update(TicketEvent)
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.actor.in_(people))
        .values(actor=redacted)
    )
    return _changed(messages) or _changed(events)


async def redact_messages(session: AsyncSession, ticket_id: uuid.UUID, redacted: str) -> bool:
    result = await session.execute(
        update(TicketMessage)
        .where(TicketMessage.ticket_id == ticket_id, TicketMessage.body != redacted)
        .values(body=redacted)
    )
    return _changed(result)


async def redact_notices(
    session: AsyncSession, ticket_id: uuid.UUID, now: datetime, reason: str
) -> bool:
    """Queued notices fail with `reason`; every notice loses its recipient and payload."""
    await session.execute(
        update(Notification)
        .where(Notification.ticket_id == ticket_id, Notification.status == NoticeStatus.QUEUED)
        .values(status=NoticeStatus.FAILED, reason=reason, failed_at=now)
    )
    result = await session.execute(
        update(Notification)
        .where(
            Notification.ticket_id == ticket_id,
            (Notification.recipient.is_not(None)) | (Notification.payload != {}),
        )
        .values(recipient=None, payload={})
    )
    return _changed(result)


async def redact_customer(session: AsyncSession, tenant_id: str, customer_id: str) -> bool:
    result = await session.execute(
        update(Customer)
        .where(
            Customer.tenant_id == tenant_id,
            Customer.id == customer_id,
            Customer.email.is_not(None) | Customer.name.is_not(None),
        )
        .values(email=None, name=None)
    )
    return _changed(result)
