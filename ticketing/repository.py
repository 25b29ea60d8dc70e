"""All SQL of the ticketing domain; the service holds the rules."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.models import (
    Customer,
    Notification,
    Partner,
    Tenant,
    Ticket,
    TicketCounter,
    TicketEvent,
    TicketMessage,
)

COUNTER = "ticket"


@dataclass(frozen=True)
class CustomerContext:
    customer_id: str
    customer_email: str | None
    tenant_id: str
    partner_id: str | None
    sla_policy: dict[str, Any] | None
    calendar: dict[str, Any] | None
    existing_ticket_id: uuid.UUID | None


_CUSTOMER_CONTEXT = text(
    """
SELECT c.id, c.email, t.id, t.partner_id, t.sla_policy, t.calendar,
       (SELECT k.id FROM tickets k
         WHERE k.tenant_id = c.tenant_id AND k.idempotency_key = :key) AS existing
FROM customers c JOIN tenants t ON t.id = c.tenant_id
WHERE c.id = :customer_id
"""
)


async def customer_context(
    session: AsyncSession, customer_id: str, idempotency_key: str | None
) -> CustomerContext | None:
    """Customer, its tenant's SLA settings and any ticket already made for this key: one query.

    This also opens the transaction through SQLAlchemy, which the driver-level insert then joins.
    """
    row = (
        await session.execute(
            _CUSTOMER_CONTEXT, {"customer_id": customer_id, "key": idempotency_key}
        )
    ).one_or_none()
    if row is None:
        return None
    return CustomerContext(*row)


# One round trip: take the next number (row lock held until commit, which keeps numbers
# gap-free), insert the ticket unless its idempotency key exists, and its first message,
# `created` event and `ticket_created` notification only if the ticket row went in.
_INSERT_TICKET = """
WITH counter AS (
    UPDATE ticket_counters SET value = value + 1 WHERE name = :counter RETURNING value
), ticket AS (
    INSERT INTO tickets (
        id, number, ticket_number, tenant_id, customer_id, title, description,
        origin_type, target_type, priority, ticket_type, status, channel, assigned_team,
        service_address, affected_services, device_serial_numbers, requester_email,
        idempotency_key, context, metadata, first_response_due, sla_due_date,
        resolution_window_start, sla_pauses, sla_breached, escalation_level,
        created_at, updated_at)
    SELECT :id, value,
        'TKT-' || CASE WHEN value < 1000000 THEN lpad(value::text, 6, '0') ELSE value::text END,
        :tenant_id, :customer_id, :title, :description,
        :origin_type, :target_type, :priority, :ticket_type, 'open', :channel, :assigned_team,
        :service_address, CAST(:affected_services AS jsonb), CAST(:device_serial_numbers AS jsonb),
        :requester_email, :idempotency_key, CAST(:context AS jsonb), CAST(:metadata AS jsonb),
        :first_response_due, :sla_due_date, :now, '[]'::jsonb, false, 1, :now, :now
    FROM counter
    ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
    RETURNING *
), message AS (
    INSERT INTO ticket_messages (ticket_id, author_actor, author, body, is_internal, created_at)
    SELECT id, 'customer', :author, description, false, :now FROM ticket
), event AS (
    INSERT INTO ticket_events (ticket_id, kind, actor, data, created_at)
    SELECT id, 'created', :author, CAST(:event_data AS jsonb), :now FROM ticket
), outbox AS (
    INSERT INTO notifications (dedupe_key, ticket_id, tenant_id, kind, recipient, payload,
                               created_at, attempts)
    SELECT 'ticket_created:' || id, id, tenant_id, 'ticket_created', :recipient, '{}'::jsonb,
           :now, 0
    FROM ticket
)
SELECT * FROM ticket
"""
_INSERT_PARAMS = (
    "counter",
    "id",
    "tenant_id",
    "customer_id",
    "title",
    "description",
    "origin_type",
    "target_type",
    "priority",
    "ticket_type",
    "channel",
    "assigned_team",
    "service_address",
    "affected_services",
    "device_serial_numbers",
    "requester_email",
    "idempotency_key",
    "context",
    "metadata",
    "first_response_due",
    "sla_due_date",
    "now",
    "author",
    "event_data",
    "recipient",
)


def _positional(sql: str, names: tuple[str, ...]) -> str:
    """`:name` placeholders to asyncpg's `$n`, numbered by their place in `names`."""
    for position, name in sorted(enumerate(names, 1), key=lambda p: -len(p[1])):
        sql = sql.replace(f":{name}", f"${position}")
    return sql


_INSERT_TICKET_SQL = _positional(_INSERT_TICKET, _INSERT_PARAMS)


async def insert_ticket(session: AsyncSession, values: dict[str, Any]) -> dict[str, Any] | None:
    """Insert a new ticket with its companions; None when the idempotency key already exists."""
    params = dict(values)
    for key in ("affected_services", "device_serial_numbers", "context", "metadata", "event_data"):
        params[key] = json.dumps(params[key])
    params["counter"] = COUNTER
    # The hottest statement of the product: run it on the driver connection (a prepared
    # statement, no SQLAlchemy compile/result overhead) inside the session's transaction,
    # which customer_context() has already begun.
    driver = await _driver_connection(session)
    row = await driver.fetchrow(_INSERT_TICKET_SQL, *(params[name] for name in _INSERT_PARAMS))
    return dict(row) if row is not None else None


async def _driver_connection(session: AsyncSession) -> Any:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    adapted: Any = raw.dbapi_connection
    # SQLAlchemy begins the asyncpg transaction lazily on its first statement; a statement
    # sent straight to the driver before that would run outside the caller's transaction.
    if not adapted._started:
        raise RuntimeError("driver-level statement outside a transaction")
    return raw.driver_connection


async def give_back_number(session: AsyncSession) -> None:
    """Undo this transaction's counter increment (we still hold the row lock)."""
    await session.execute(
        update(TicketCounter)
        .where(TicketCounter.name == COUNTER)
        .values(value=TicketCounter.value - 1)
    )


async def get_tenant(session: AsyncSession, tenant_id: str) -> Tenant | None:
    return await session.get(Tenant, tenant_id)


async def get_partner(session: AsyncSession, partner_id: str) -> Partner | None:
    return await session.get(Partner, partner_id)


async def get_customer(session: AsyncSession, customer_id: str) -> Customer | None:
    return await session.get(Customer, customer_id)


async def insert_customer_if_absent(
    session: AsyncSession, *, customer_id: str, tenant_id: str, email: str | None, name: str | None
) -> None:
    await session.execute(
        pg_insert(Customer)
        .values(id=customer_id, tenant_id=tenant_id, email=email, name=name)
        .on_conflict_do_nothing(index_elements=[Customer.id])
    )


async def lock_customer(session: AsyncSession, customer_id: str) -> Customer:
    return (
        await session.execute(
            select(Customer)
            .where(Customer.id == customer_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


def _ticket_lookup(ref: uuid.UUID | int, tenant_id: str | None) -> Select[tuple[Ticket]]:
    query = select(Ticket)
    query = (
        query.where(Ticket.id == ref)
        if isinstance(ref, uuid.UUID)
        else query.where(Ticket.number == ref)
    )
    if tenant_id is not None:
        query = query.where(Ticket.tenant_id == tenant_id)
    return query


async def find_ticket(
    session: AsyncSession,
    ref: uuid.UUID | int,
    *,
    tenant_id: str | None,
    for_update: bool = False,
) -> Ticket | None:
    # populate_existing: the SLA path writes with plain SQL, so a ticket already in this
    # session's identity map may be older than its row.
    query = _ticket_lookup(ref, tenant_id).execution_options(populate_existing=True)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def add_event(
    session: AsyncSession,
    ticket_id: uuid.UUID,
    kind: str,
    now: datetime,
    *,
    actor: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    session.add(
        TicketEvent(ticket_id=ticket_id, kind=kind, actor=actor, data=data or {}, created_at=now)
    )


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
    recorded: frozenset[str]


_SLA_ROW = """
SELECT t.id, t.ticket_number, t.tenant_id, t.status, t.priority, t.ticket_type, t.target_type,
       t.escalation_level, t.created_at, t.resolution_window_start, t.first_response_at,
       t.sla_pauses, n.sla_policy, n.calendar, n.support_email, n.partner_id, p.email,
       ARRAY(SELECT b.kind FROM sla_breaches b
              WHERE b.ticket_id = t.id
                AND ((b.kind LIKE 'first_response%' AND b.window_start = t.created_at)
                  OR (b.kind LIKE 'resolution%' AND b.window_start = t.resolution_window_start)))
FROM tickets t
LEFT JOIN tenants n ON n.id = t.tenant_id
LEFT JOIN partners p ON p.id = n.partner_id
WHERE t.{column} = :ref AND (CAST(:tenant_id AS text) IS NULL OR t.tenant_id = :tenant_id)
"""
_SLA_ROW_BY = {
    (column, lock): text(_SLA_ROW.format(column=column) + (" FOR UPDATE OF t" if lock else ""))
    for column in ("id", "number")
    for lock in (False, True)
}


async def sla_row(
    session: AsyncSession, ref: uuid.UUID | int, *, tenant_id: str | None, for_update: bool
) -> SlaRow | None:
    """The SLA path's only read; with `for_update` the ticket row stays locked until commit.

    A plain text statement: the watchers run it thousands of times a minute, and the ORM's
    per-statement cost was most of what a threshold cost the worker.
    """
    column = "id" if isinstance(ref, uuid.UUID) else "number"
    row = (
        await session.execute(_SLA_ROW_BY[column, for_update], {"ref": ref, "tenant_id": tenant_id})
    ).one_or_none()
    if row is None:
        return None
    values = list(row)
    values[-1] = frozenset(values[-1])
    return SlaRow(*values)


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
_RECORD_THRESHOLD_SQL = _positional(_RECORD_THRESHOLD, _RECORD_PARAMS)


async def record_threshold(session: AsyncSession, **values: Any) -> tuple[bool, list[int]]:
    """Insert a threshold unless already recorded; (recorded, new notification ids)."""
    values["data"] = json.dumps(values["data"])
    driver = await _driver_connection(session)
    recorded, note_ids = await driver.fetchrow(
        _RECORD_THRESHOLD_SQL, *(values[name] for name in _RECORD_PARAMS)
    )
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
_ESCALATE_SQL = _positional(_ESCALATE, _ESCALATE_PARAMS)


async def apply_escalation(session: AsyncSession, **values: Any) -> bool:
    values["data"] = json.dumps(values["data"])
    driver = await _driver_connection(session)
    moved = await driver.fetchval(_ESCALATE_SQL, *(values[name] for name in _ESCALATE_PARAMS))
    return bool(moved)


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
SELECT x.id, x.kind, x.recipient, x.payload, t.ticket_number, t.title, t.priority
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
    return [OutboxRow(*row) for row in rows]


async def mark_sent(session: AsyncSession, notification_ids: list[int], now: datetime) -> None:
    await session.execute(_MARK_SENT, {"ids": notification_ids, "now": now})


async def messages(session: AsyncSession, ticket_id: uuid.UUID) -> list[TicketMessage]:
    rows = await session.execute(
        select(TicketMessage).where(TicketMessage.ticket_id == ticket_id).order_by(TicketMessage.id)
    )
    return list(rows.scalars())


async def events(session: AsyncSession, ticket_id: uuid.UUID) -> list[TicketEvent]:
    rows = await session.execute(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    )
    return list(rows.scalars())


async def count_tickets(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(Ticket))).scalar_one())
