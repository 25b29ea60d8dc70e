"""All SQL of the outbox: find, count attempts, claim and mark notices."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.notifications.models import Notification
from ticketing.tickets.numbering import format_ticket_number


async def notification_ids_by_key(session: AsyncSession, dedupe_key: str) -> list[int]:
    rows = await session.execute(
        select(Notification.id).where(Notification.dedupe_key == dedupe_key)
    )
    return list(rows.scalars())


_COUNT_ATTEMPTS = text(
    "UPDATE notifications SET attempts = attempts + 1"
    " WHERE id = ANY(:ids) AND sent_at IS NULL RETURNING id"
)
_COUNT_TICKET_ATTEMPTS = text(
    "UPDATE notifications SET attempts = attempts + 1"
    " WHERE ticket_id = :ticket_id AND sent_at IS NULL RETURNING id"
)


async def count_attempts(session: AsyncSession, notification_ids: list[int]) -> list[int]:
    """Record a delivery attempt on each unsent notification; returns those (already sent
    ones drop out)."""
    rows = await session.execute(_COUNT_ATTEMPTS, {"ids": notification_ids})
    return sorted(rows.scalars())


async def count_ticket_attempts(session: AsyncSession, ticket_id: uuid.UUID) -> list[int]:
    """Like count_attempts, for every unsent notification of one ticket."""
    rows = await session.execute(_COUNT_TICKET_ATTEMPTS, {"ticket_id": ticket_id})
    return sorted(rows.scalars())


@dataclass(frozen=True)
class OutboxRow:
    """One claimed notification with the ticket fields its message needs."""

    id: int
    kind: str
    recipient: str | None
    payload: dict[str, Any]
    ticket_number: str
    title: str
    priority: str


_CLAIM = text(
    """
SELECT x.id, x.kind, x.recipient, x.payload, t.number, t.title, t.priority
FROM notifications x JOIN tickets t ON t.id = x.ticket_id
WHERE x.id = ANY(:ids) AND x.sent_at IS NULL
ORDER BY x.id
FOR UPDATE OF x SKIP LOCKED
"""
)
_MARK_SENT = text("UPDATE notifications SET sent_at = :now WHERE id = ANY(:ids)")


async def claim_notifications(
    session: AsyncSession, notification_ids: list[int]
) -> list[OutboxRow]:
    """Lock the unsent ones; rows another sender holds are skipped, so two live senders never
    both send one."""
    rows = await session.execute(_CLAIM, {"ids": notification_ids})
    return [
        OutboxRow(row[0], row[1], row[2], row[3], format_ticket_number(row[4]), row[5], row[6])
        for row in rows
    ]


async def mark_sent(session: AsyncSession, notification_ids: list[int], now: datetime) -> None:
    await session.execute(_MARK_SENT, {"ids": notification_ids, "now": now})


_STUCK = text(
    """
SELECT DISTINCT ticket_id FROM notifications
WHERE sent_at IS NULL AND created_at < :before AND attempts < :max_attempts
  AND ticket_id IS NOT NULL
LIMIT :limit
"""
)


async def tickets_with_stuck_notices(
    session: AsyncSession, *, before: datetime, max_attempts: int, limit: int
) -> list[uuid.UUID]:
    """Tickets with notices queued before `before`, unsent, and not yet tried too often."""
    rows = await session.execute(
        _STUCK, {"before": before, "max_attempts": max_attempts, "limit": limit}
    )
    return list(rows.scalars())
