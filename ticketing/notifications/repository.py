"""All SQL of the outbox: queue notices, claim due rows, record their outcomes, list a ticket's."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.core.enums import NoticeKind
from ticketing.notifications.models import Notification
from ticketing.notifications.schemas import NoticeInfo
from ticketing.tickets.numbering import format_ticket_number


async def notification_ids_by_key(session: AsyncSession, dedupe_key: str) -> list[int]:
    rows = await session.execute(
        select(Notification.id).where(Notification.dedupe_key == dedupe_key)
    )
    return list(rows.scalars())


@dataclass(frozen=True)
class QueuedNotice:
    """One outbox row to write: the key makes a second write of the same notice a no-op."""

    dedupe_key: str
    ticket_id: uuid.UUID
    tenant_id: str
    kind: NoticeKind
    recipient: str | None
    payload: dict[str, Any]


_QUEUE = text(
    """
INSERT INTO notifications (dedupe_key, ticket_id, tenant_id, kind, recipient, payload,
                           created_at, attempts, status, next_attempt_at)
VALUES (:dedupe_key, :ticket_id, :tenant_id, :kind, :recipient, CAST(:payload AS jsonb),
        now(), 0, 'queued', now())
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id
"""
)


async def queue_notice(session: AsyncSession, notice: QueuedNotice) -> int | None:
    """Write the row in the caller's transaction; None if that notice was already queued."""
    row = await session.execute(
        _QUEUE,
        {
            "dedupe_key": notice.dedupe_key,
            "ticket_id": notice.ticket_id,
            "tenant_id": notice.tenant_id,
            "kind": notice.kind.value,
            "recipient": notice.recipient,
            "payload": json.dumps(notice.payload),
        },
    )
    return row.scalar_one_or_none()


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
    ticket_id: uuid.UUID | None = None
    status: str = ""
    tenant_name: str = ""
    attempts: int = 0
    # The tenant's inbound mailbox (notices go out from it), and the Message-ID of the
    # customer's latest mail on the ticket (notices answer in its thread).
    mailbox: str | None = None
    customer_message_id: str | None = None
    # Why the recipient is flagged as bounced for the tenant (ticketing/mail/bounce_repository),
    # or None: a flagged address is not written to again until it writes in.
    bounced: str | None = None
    # When the row fell due before this claim: a row claimed but never tried goes back there.
    was_due: datetime | None = None


# Due rows, skipping rows another sender holds; the claim counts the attempt and leases each
# row in a transaction of its own, committed before the mail leaves, so a crash between send
# and record shows as a second attempt with the same Message-ID, never as a silent repeat.
_CLAIM = text(
    """
WITH due AS (
    SELECT id, next_attempt_at FROM notifications
    WHERE status = 'queued' AND next_attempt_at <= clock_timestamp()
      AND (CAST(:ticket_id AS uuid) IS NULL OR ticket_id = CAST(:ticket_id AS uuid))
    ORDER BY next_attempt_at, id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE notifications x
    SET attempts = x.attempts + 1, next_attempt_at = clock_timestamp() + :lease
    FROM due WHERE x.id = due.id
    RETURNING x.id, x.kind, x.recipient, x.payload, x.ticket_id, x.attempts, x.tenant_id,
              due.next_attempt_at AS was_due
)
SELECT c.id, c.kind, c.recipient, c.payload, t.number, t.title, t.priority,
       t.id, t.status, n.name, c.attempts,
       (SELECT b.address FROM mailboxes b WHERE b.tenant_id = t.tenant_id
         ORDER BY b.created_at, b.address LIMIT 1),
       (SELECT i.message_id FROM inbound_mails i
         WHERE i.ticket_id = t.id AND i.message_id IS NOT NULL
           AND i.outcome IN ('created', 'appended')
         ORDER BY i.id DESC LIMIT 1),
       (SELECT f.reason FROM bounced_addresses f
         WHERE f.tenant_id = c.tenant_id AND f.address = lower(c.recipient)),
       c.was_due
FROM claimed c
LEFT JOIN tickets t ON t.id = c.ticket_id
LEFT JOIN tenants n ON n.id = t.tenant_id
ORDER BY c.was_due, c.id
"""
)


async def claim_due(
    session: AsyncSession,
    *,
    lease: timedelta,
    ticket_id: uuid.UUID | None = None,
    limit: int = 1,
) -> list[OutboxRow]:
    """Claim up to `limit` of the oldest due rows (of one ticket, if given) for `lease`, in
    the order they fell due; empty if none is due."""
    rows = await session.execute(
        _CLAIM,
        {"lease": lease, "ticket_id": str(ticket_id) if ticket_id else None, "limit": limit},
    )
    return [
        OutboxRow(
            id=row[0],
            kind=row[1],
            recipient=row[2],
            payload=dict(row[3] or {}),
            ticket_number=format_ticket_number(row[4]) if row[4] else "",
            title=row[5] or "",
            priority=row[6] or "",
            ticket_id=row[7],
            status=row[8] or "",
            tenant_name=row[9] or "",
            attempts=row[10],
            mailbox=row[11],
            customer_message_id=row[12],
            bounced=row[13],
            was_due=row[14],
        )
        for row in rows
    ]


# Each row's own outcome, one statement per kind of outcome; `status = 'queued'` keeps an
# outcome from being recorded twice.
_MARK_SENT = text(
    "UPDATE notifications x SET status = 'sent', sent_at = clock_timestamp(),"
    " reason = v.reason, message_id = v.message_id"
    " FROM unnest(CAST(:ids AS bigint[]), CAST(:message_ids AS text[]),"
    " CAST(:reasons AS text[])) AS v(id, message_id, reason)"
    " WHERE x.id = v.id AND x.status = 'queued'"
)
_MARK_FAILED = text(
    "UPDATE notifications x SET status = 'failed', failed_at = clock_timestamp(),"
    " reason = v.reason"
    " FROM unnest(CAST(:ids AS bigint[]), CAST(:reasons AS text[])) AS v(id, reason)"
    " WHERE x.id = v.id AND x.status = 'queued'"
)
_DEFER = text(
    "UPDATE notifications x"
    " SET next_attempt_at = clock_timestamp() + make_interval(secs => v.delay),"
    " reason = v.reason"
    " FROM unnest(CAST(:ids AS bigint[]), CAST(:delays AS double precision[]),"
    " CAST(:reasons AS text[])) AS v(id, delay, reason)"
    " WHERE x.id = v.id AND x.status = 'queued'"
)
# A claimed row that was never tried: its attempt uncounted and its place in the queue back,
# unless its lease ran out and another sender claimed it since.
_RELEASE = text(
    "UPDATE notifications x SET attempts = x.attempts - 1, next_attempt_at = v.was_due"
    " FROM unnest(CAST(:ids AS bigint[]), CAST(:attempts AS int[]),"
    " CAST(:was_due AS timestamptz[])) AS v(id, attempts, was_due)"
    " WHERE x.id = v.id AND x.status = 'queued' AND x.attempts = v.attempts"
)


async def mark_sent(session: AsyncSession, sent: list[tuple[int, str, str]]) -> None:
    """(id, message id, reply) per delivered row."""
    if sent:
        ids, message_ids, reasons = zip(*sent, strict=True)
        await session.execute(
            _MARK_SENT,
            {
                "ids": list(ids),
                "message_ids": list(message_ids),
                "reasons": [r[:1000] or None for r in reasons],
            },
        )


async def mark_failed(session: AsyncSession, failed: list[tuple[int, str]]) -> None:
    """(id, reason) per row that will never be sent."""
    if failed:
        ids, reasons = zip(*failed, strict=True)
        await session.execute(
            _MARK_FAILED, {"ids": list(ids), "reasons": [r[:1000] for r in reasons]}
        )


async def defer(session: AsyncSession, deferred: list[tuple[int, timedelta, str]]) -> None:
    """(id, delay, reason) per row to try again after its delay."""
    if deferred:
        ids, delays, reasons = zip(*deferred, strict=True)
        await session.execute(
            _DEFER,
            {
                "ids": list(ids),
                "delays": [d.total_seconds() for d in delays],
                "reasons": [r[:1000] for r in reasons],
            },
        )


async def release(session: AsyncSession, rows: list[OutboxRow]) -> None:
    """Give back claimed rows that were never tried, as if never claimed."""
    if rows:
        await session.execute(
            _RELEASE,
            {
                "ids": [r.id for r in rows],
                "attempts": [r.attempts for r in rows],
                "was_due": [r.was_due for r in rows],
            },
        )


_NEXT_DUE = text(
    "SELECT min(next_attempt_at) - clock_timestamp() FROM notifications WHERE status = 'queued'"
)


async def next_due_in(session: AsyncSession) -> timedelta | None:
    """How long until the next queued row is due (negative if one is due now); None if none."""
    value = (await session.execute(_NEXT_DUE)).scalar_one_or_none()
    return value if isinstance(value, timedelta) else None


_DUE_COUNT = text(
    "SELECT count(*) FROM notifications"
    " WHERE status = 'queued'"
    " AND next_attempt_at <= clock_timestamp() - CAST(:older_than AS interval)"
)


async def count_overdue(session: AsyncSession, older_than: timedelta) -> int:
    """Queued rows due for longer than `older_than`: a dispatcher that is not running."""
    return int((await session.execute(_DUE_COUNT, {"older_than": older_than})).scalar_one())


async def notices_of_ticket(session: AsyncSession, ticket_id: uuid.UUID) -> list[NoticeInfo]:
    rows = await session.execute(
        select(Notification).where(Notification.ticket_id == ticket_id).order_by(Notification.id)
    )
    return [
        NoticeInfo(
            id=n.id,
            kind=n.kind,
            recipient=n.recipient,
            status=n.status,
            attempts=n.attempts,
            reason=n.reason,
            created_at=n.created_at,
            sent_at=n.sent_at,
            failed_at=n.failed_at,
        )
        for n in rows.scalars()
    ]


@dataclass(frozen=True)
class TicketContacts:
    """Who hears about a ticket: the customer who asked, and the tenant's desk."""

    customer: str | None
    desk: str | None


_CONTACTS = text(
    """
SELECT coalesce(t.requester_email, c.email), n.support_email
FROM tickets t JOIN customers c ON c.id = t.customer_id JOIN tenants n ON n.id = t.tenant_id
WHERE t.id = :ticket_id
"""
)


async def ticket_contacts(session: AsyncSession, ticket_id: uuid.UUID) -> TicketContacts:
    row = (await session.execute(_CONTACTS, {"ticket_id": ticket_id})).first()
    return TicketContacts(row[0], row[1]) if row else TicketContacts(None, None)


_LAST_EVENT = text("SELECT max(id) FROM ticket_events WHERE ticket_id = :ticket_id")


async def last_event_id(session: AsyncSession, ticket_id: uuid.UUID) -> int | None:
    """The newest event of the ticket: in the command's transaction, the one it just wrote."""
    return (await session.execute(_LAST_EVENT, {"ticket_id": ticket_id})).scalar_one_or_none()


_LAST_MESSAGE = text(
    "SELECT id, author_actor, is_internal, body FROM ticket_messages"
    " WHERE ticket_id = :ticket_id ORDER BY id DESC LIMIT 1"
)
_LAST_STATUS_CHANGE = text(
    "SELECT id, data FROM ticket_events WHERE ticket_id = :ticket_id AND kind = 'status_changed'"
    " ORDER BY id DESC LIMIT 1"
)


async def last_message(
    session: AsyncSession, ticket_id: uuid.UUID
) -> tuple[int, str, bool, str] | None:
    """The ticket's newest message: id, author side, internal, body."""
    row = (await session.execute(_LAST_MESSAGE, {"ticket_id": ticket_id})).first()
    return None if row is None else (row[0], str(row[1]), bool(row[2]), row[3])


async def last_status_change(
    session: AsyncSession, ticket_id: uuid.UUID
) -> tuple[int, dict[str, Any]] | None:
    """The ticket's newest status change event: id and its data (`from`, `to`)."""
    row = (await session.execute(_LAST_STATUS_CHANGE, {"ticket_id": ticket_id})).first()
    return None if row is None else (row[0], dict(row[1]))
