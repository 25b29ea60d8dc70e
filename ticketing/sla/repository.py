"""All SQL of the SLA path: one read per threshold, one write, an escalation."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.driver import driver_connection, positional
from ticketing.tickets.numbering import format_ticket_number


@dataclass(frozen=True)
class SlaRow:
    """What the SLA clock of one ticket depends on, read in one statement: the ticket's clock
    fields, its tenant's policy and contacts, and the thresholds recorded in its windows."""

    id: uuid.UUID
    ticket_number: str
    tenant_id: str
    status: str
    priority: str
    ticket_type: str
    target_type: str
    escalation_level: int
    created_at: datetime
    resolution_window_start: datetime
    first_response_at: datetime | None
    sla_pauses: list[Any]
    sla_policy: dict[str, Any] | None
    calendar: dict[str, Any] | None
    support_email: str | None
    partner_id: str | None
    partner_email: str | None
    channel: str
    customer_plan: str | None
    # The oldest customer message the support side has not answered: the next-reply window.
    awaiting_reply_since: datetime | None
    # The last public support message, else creation: the keep-in-loop window.
    keep_in_loop_since: datetime
    resolved_at: datetime | None
    recorded: frozenset[str]


# `w.since`: the oldest public customer message after the support side's latest public reply,
# once a first response exists (before it, the first-response window covers every message).
# `k.told`: the latest public message from any support side (tenant, partner, platform): the
# customer heard from support then, and the keep-in-loop window starts there.
_SLA_SELECT = """
SELECT t.id, t.number, t.tenant_id, t.status, t.priority, t.ticket_type, t.target_type,
       t.escalation_level, t.created_at, t.resolution_window_start, t.first_response_at,
       t.sla_pauses, n.sla_policy, n.calendar, n.support_email, n.partner_id, p.email,
       t.channel, c.plan, w.since, COALESCE(k.told, t.created_at), t.resolved_at,
       ARRAY(SELECT b.kind FROM sla_breaches b
              WHERE b.ticket_id = t.id
                AND ((b.kind LIKE 'first_response%' AND b.window_start = t.created_at)
                  OR (b.kind LIKE 'resolution%' AND b.window_start = t.resolution_window_start)
                  OR (b.kind LIKE 'next_reply%' AND b.window_start = w.since)
                  OR (b.kind LIKE 'keep_in_loop%'
                      AND b.window_start = COALESCE(k.told, t.created_at))))
FROM tickets t
LEFT JOIN tenants n ON n.id = t.tenant_id
LEFT JOIN partners p ON p.id = n.partner_id
LEFT JOIN customers c ON c.tenant_id = t.tenant_id AND c.id = t.customer_id
LEFT JOIN LATERAL (
    SELECT min(m.created_at) AS since FROM ticket_messages m
    WHERE m.ticket_id = t.id AND m.author_actor = 'customer' AND NOT m.is_internal
      AND t.first_response_at IS NOT NULL
      AND m.created_at > (SELECT max(r.created_at) FROM ticket_messages r
                          WHERE r.ticket_id = t.id AND NOT r.is_internal
                            AND r.author_actor NOT IN ('customer', t.origin_type))
) w ON true
LEFT JOIN LATERAL (
    SELECT max(r.created_at) AS told FROM ticket_messages r
    WHERE r.ticket_id = t.id AND NOT r.is_internal AND r.author_actor <> 'customer'
) k ON true
"""
_SLA_ROW = (
    _SLA_SELECT
    + "WHERE t.{column} = :ref AND (CAST(:tenant_id AS text) IS NULL OR t.tenant_id = :tenant_id)"
)
_SLA_ROW_BY = {
    (column, lock): text(_SLA_ROW.format(column=column) + (" FOR UPDATE OF t" if lock else ""))
    for column in ("id", "number")
    for lock in (False, True)
}
# A tenant's tickets whose clocks may still run, a page at a time, locked against a concurrent
# change computing its due dates from the policy being replaced.
_OPEN_SLA_ROWS = text(
    _SLA_SELECT
    + "WHERE t.tenant_id = :tenant_id AND t.status NOT IN ('resolved', 'closed')"
    + " AND t.id > :after ORDER BY t.id LIMIT :limit FOR UPDATE OF t"
)

# One customer's tickets whose clocks may still run (a plan change re-targets them), locked.
_CUSTOMER_OPEN_SLA_ROWS = text(
    _SLA_SELECT
    + "WHERE t.tenant_id = :tenant_id AND t.customer_id = :customer_id"
    + " AND t.status NOT IN ('resolved', 'closed') ORDER BY t.id FOR UPDATE OF t"
)


def _sla_row(row: Any) -> SlaRow:
    values = list(row)
    values[1] = format_ticket_number(values[1])
    values[-1] = frozenset(values[-1])
    return SlaRow(*values)


async def sla_row(
    session: AsyncSession, ref: uuid.UUID | int, *, tenant_id: str | None, for_update: bool
) -> SlaRow | None:
    # Scoped by tenant here; the service narrows further for principals below a tenant.
    """The SLA path's only read; with `for_update` the ticket row stays locked until commit.

    A plain text statement: the watchers run it thousands of times a minute, and the ORM's
    per-statement cost was most of what a threshold cost the worker.
    """
    column = "id" if isinstance(ref, uuid.UUID) else "number"
    row = (
        await session.execute(_SLA_ROW_BY[column, for_update], {"ref": ref, "tenant_id": tenant_id})
    ).one_or_none()
    return None if row is None else _sla_row(row)


async def open_sla_rows(
    session: AsyncSession, tenant_id: str, *, after: uuid.UUID, limit: int
) -> list[SlaRow]:
    """A page of the tenant's not-done tickets with ids after `after`, locked."""
    result = await session.execute(
        _OPEN_SLA_ROWS, {"tenant_id": tenant_id, "after": after, "limit": limit}
    )
    return [_sla_row(row) for row in result]


async def customer_open_sla_rows(
    session: AsyncSession, tenant_id: str, customer_id: str
) -> list[SlaRow]:
    """The customer's not-done tickets, locked."""
    result = await session.execute(
        _CUSTOMER_OPEN_SLA_ROWS, {"tenant_id": tenant_id, "customer_id": customer_id}
    )
    return [_sla_row(row) for row in result]


async def store_due_dates(
    session: AsyncSession, due: list[tuple[uuid.UUID, datetime | None, datetime | None]]
) -> None:
    """Store re-targeted due dates: (ticket id, first response due, resolution due)."""
    if not due:
        return
    await session.execute(
        text(
            "UPDATE tickets t SET first_response_due = d.fr, sla_due_date = d.res "
            "FROM unnest(CAST(:ids AS uuid[]), CAST(:frs AS timestamptz[]),"
            " CAST(:res AS timestamptz[])) AS d(id, fr, res) WHERE t.id = d.id"
        ),
        {
            "ids": [ticket_id for ticket_id, _, _ in due],
            "frs": [fr for _, fr, _ in due],
            "res": [res for _, _, res in due],
        },
    )


async def recorded_by_call(
    session: AsyncSession, ticket_id: uuid.UUID, kind: str, now: datetime
) -> tuple[bool, bool]:
    """Whether a call stamped `now` already recorded `kind` (and escalated at it).

    A retried activity carries its first attempt's `now`, so this tells a retry of a call that
    committed from a call that found nothing to record.
    """
    row = (
        await session.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM sla_breaches WHERE ticket_id = :id AND kind = :kind"
                " AND recorded_at = :now),"
                " COALESCE((SELECT escalated_at = :now FROM tickets WHERE id = :id), false)"
            ),
            {"id": ticket_id, "kind": kind, "now": now},
        )
    ).one()
    return bool(row[0]), bool(row[1])


# A warning or breach with its event, its notification and (for a breach) the ticket's flag,
# all only if the (ticket, kind, window) row is new: a retried call changes nothing.
_RECORD_THRESHOLD = """
WITH breach AS (
    INSERT INTO sla_breaches (ticket_id, kind, window_start, escalation_level, due_at, recorded_at)
    VALUES (:ticket_id, :kind, :window_start, :level, :due_at, :now)
    ON CONFLICT (ticket_id, kind, window_start) DO NOTHING
    RETURNING ticket_id
), event AS (
    INSERT INTO ticket_events (ticket_id, kind, actor, data, created_at)
    SELECT ticket_id, :event_kind, NULL, CAST(:data AS jsonb), :now FROM breach
), flag AS (
    UPDATE tickets SET sla_breached = true
    WHERE id IN (SELECT ticket_id FROM breach) AND :is_breach
), note AS (
    INSERT INTO notifications (dedupe_key, ticket_id, tenant_id, kind, recipient, payload,
                               created_at, attempts)
    SELECT :dedupe_key, ticket_id, :tenant_id, :note_kind, :recipient, CAST(:data AS jsonb),
           :now, 0
    FROM breach
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id
)
SELECT (SELECT count(*) FROM breach), ARRAY(SELECT id FROM note)
"""
_RECORD_PARAMS = (
    "ticket_id",
    "kind",
    "window_start",
    "level",
    "due_at",
    "now",
    "event_kind",
    "data",
    "is_breach",
    "dedupe_key",
    "tenant_id",
    "note_kind",
    "recipient",
)
_RECORD_THRESHOLD_SQL = positional(_RECORD_THRESHOLD, _RECORD_PARAMS)


@dataclass(frozen=True)
class ThresholdRecord:
    """One warning or breach to record, with its event and its notice."""

    ticket_id: uuid.UUID
    kind: str
    window_start: datetime
    level: int
    due_at: datetime
    now: datetime
    event_kind: str
    data: dict[str, Any]
    is_breach: bool
    dedupe_key: str
    tenant_id: str
    note_kind: str
    recipient: str | None


async def record_threshold(
    session: AsyncSession, record: ThresholdRecord
) -> tuple[bool, list[int]]:
    """Insert a threshold unless already recorded; (recorded, new notification ids)."""
    values = {**record.__dict__, "data": json.dumps(record.data)}
    driver = await driver_connection(session)
    row: Any = await driver.fetchrow(
        _RECORD_THRESHOLD_SQL, *(values[name] for name in _RECORD_PARAMS)
    )
    recorded, note_ids = row
    return recorded > 0, list(note_ids)


# Move the ticket one level up with its `escalated` event and notification, only if it is still
# at `from_level` (the caller holds the row lock, so this only guards against a stale caller).
_ESCALATE = """
WITH moved AS (
    UPDATE tickets
    SET origin_type = :origin_type, target_type = :target_type, escalation_level = :to_level,
        escalated_at = :now, resolution_window_start = :now,
        first_response_due = :first_response_due, sla_due_date = :sla_due_date, updated_at = :now
    WHERE id = :ticket_id AND escalation_level = :from_level
    RETURNING id, tenant_id
), event AS (
    INSERT INTO ticket_events (ticket_id, kind, actor, data, created_at)
    SELECT id, 'escalated', :actor, CAST(:data AS jsonb), :now FROM moved
), note AS (
    INSERT INTO notifications (dedupe_key, ticket_id, tenant_id, kind, recipient, payload,
                               created_at, attempts)
    SELECT :dedupe_key, id, tenant_id, 'escalated', :recipient, CAST(:data AS jsonb), :now, 0
    FROM moved
    ON CONFLICT (dedupe_key) DO NOTHING
)
SELECT count(*) FROM moved
"""
_ESCALATE_PARAMS = (
    "ticket_id",
    "from_level",
    "to_level",
    "origin_type",
    "target_type",
    "now",
    "first_response_due",
    "sla_due_date",
    "actor",
    "data",
    "dedupe_key",
    "recipient",
)
_ESCALATE_SQL = positional(_ESCALATE, _ESCALATE_PARAMS)


@dataclass(frozen=True)
class EscalationMove:
    """A ticket moving one level up, with its new route and due dates."""

    ticket_id: uuid.UUID
    from_level: int
    to_level: int
    origin_type: str
    target_type: str
    now: datetime
    first_response_due: datetime | None
    sla_due_date: datetime | None
    actor: str | None
    data: dict[str, Any]
    dedupe_key: str
    recipient: str | None


async def apply_escalation(session: AsyncSession, move: EscalationMove) -> bool:
    """Apply the move if the ticket is still at `from_level`; whether it moved."""
    values = {**move.__dict__, "data": json.dumps(move.data)}
    driver = await driver_connection(session)
    moved = await driver.fetchval(_ESCALATE_SQL, *(values[name] for name in _ESCALATE_PARAMS))
    return bool(moved)


async def customer_plan(session: AsyncSession, tenant_id: str, customer_id: str) -> str | None:
    """The plan (tier) a customer is on, which SLA rules may match."""
    plan: str | None = (
        await session.execute(
            text("SELECT plan FROM customers WHERE tenant_id = :tenant AND id = :id"),
            {"tenant": tenant_id, "id": customer_id},
        )
    ).scalar_one_or_none()
    return plan


# Resolved tickets whose tenant's policy closes them after a quiet period that has passed. The
# period lives in the policy document; policies stored before it existed have none.
_QUIET_RESOLVED = """
SELECT t.id FROM tickets t JOIN tenants n ON n.id = t.tenant_id
WHERE t.status = 'resolved' AND n.sla_policy ? 'auto_close_after_seconds'
  AND jsonb_typeof(n.sla_policy -> 'auto_close_after_seconds') = 'number'
  AND t.resolved_at + make_interval(secs => (n.sla_policy ->> 'auto_close_after_seconds')::int)
      <= :now
"""


async def quiet_resolved(session: AsyncSession, *, now: datetime, limit: int) -> list[uuid.UUID]:
    """Up to `limit` resolved tickets whose quiet period has passed, oldest first."""
    rows = await session.execute(
        text(_QUIET_RESOLVED + " ORDER BY t.resolved_at LIMIT :limit"),
        {"now": now, "limit": limit},
    )
    return list(rows.scalars())


async def lock_if_quiet(session: AsyncSession, ticket_id: uuid.UUID, now: datetime) -> bool:
    """Lock the ticket if it is still resolved and quiet (a customer may have just answered)."""
    row = await session.execute(
        text(_QUIET_RESOLVED + " AND t.id = :id FOR UPDATE OF t"), {"now": now, "id": ticket_id}
    )
    return row.first() is not None


async def statement_timestamp(session: AsyncSession) -> datetime:
    """The database clock at this statement."""
    stamp: datetime = (await session.execute(text("SELECT statement_timestamp()"))).scalar_one()
    return stamp
