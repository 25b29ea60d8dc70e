"""SQL of waits on the customer: pending tickets due a reminder or a close under their
tenant's policy (`pending_reminder_after_seconds`, `pending_close_after_seconds`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Pending tickets whose wait (from `pending_since`, real time) passed the policy's period for
# `key`. Policies stored before these keys existed have none.
_PENDING_PAST = """
SELECT t.id FROM tickets t JOIN tenants n ON n.id = t.tenant_id
WHERE t.status = 'pending' AND t.pending_since IS NOT NULL
  AND jsonb_typeof(n.sla_policy -> :key) = 'number'
  AND t.pending_since + make_interval(secs => (n.sla_policy ->> :key)::int) <= :now
"""
# Not reminded in this wait yet.
_NOT_REMINDED = """
  AND NOT EXISTS (SELECT 1 FROM ticket_events e WHERE e.ticket_id = t.id
                  AND e.kind = 'reminded' AND e.created_at >= t.pending_since)
"""
REMINDER = "pending_reminder_after_seconds"
CLOSE = "pending_close_after_seconds"


def _statement(key: str) -> str:
    return _PENDING_PAST + (_NOT_REMINDED if key == REMINDER else "")


async def pending_past(
    session: AsyncSession, key: str, *, now: datetime, limit: int
) -> list[uuid.UUID]:
    """Up to `limit` pending tickets past the policy's `key` period (and, for reminders, not
    reminded in this wait), longest waiting first."""
    rows = await session.execute(
        text(_statement(key) + " ORDER BY t.pending_since LIMIT :limit"),
        {"key": key, "now": now, "limit": limit},
    )
    return list(rows.scalars())


async def lock_if_pending_past(
    session: AsyncSession, key: str, ticket_id: uuid.UUID, now: datetime
) -> datetime | None:
    """Lock the ticket if it still is past `key` (the customer may have just answered);
    returns when its wait began."""
    row = await session.execute(
        text(
            _statement(key).replace("SELECT t.id", "SELECT t.pending_since", 1)
            + " AND t.id = :id FOR UPDATE OF t"
        ),
        {"key": key, "now": now, "id": ticket_id},
    )
    since: datetime | None = row.scalar_one_or_none()
    return since
