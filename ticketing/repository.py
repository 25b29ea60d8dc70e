"""All SQL of the ticketing domain; the service holds the rules."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.models import (
    Customer,
    Notification,
    Partner,
    SlaBreach,
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
_INSERT_TICKET_SQL = _INSERT_TICKET
for _position, _name in sorted(enumerate(_INSERT_PARAMS, 1), key=lambda p: -len(p[1])):
    _INSERT_TICKET_SQL = _INSERT_TICKET_SQL.replace(f":{_name}", f"${_position}")


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
    query = _ticket_lookup(ref, tenant_id)
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


async def add_notification(
    session: AsyncSession,
    *,
    dedupe_key: str,
    ticket: Ticket,
    kind: str,
    recipient: str | None,
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> int | None:
    """Queue a notification once per dedupe key; returns its id, or None if already queued."""
    stmt = (
        pg_insert(Notification)
        .values(
            dedupe_key=dedupe_key,
            ticket_id=ticket.id,
            tenant_id=ticket.tenant_id,
            kind=kind,
            recipient=recipient,
            payload=payload or {},
            created_at=now,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=[Notification.dedupe_key])
        .returning(Notification.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def insert_breach(
    session: AsyncSession,
    *,
    ticket_id: uuid.UUID,
    kind: str,
    window_start: datetime,
    level: int,
    due_at: datetime,
    now: datetime,
) -> bool:
    stmt = (
        pg_insert(SlaBreach)
        .values(
            ticket_id=ticket_id,
            kind=kind,
            window_start=window_start,
            escalation_level=level,
            due_at=due_at,
            recorded_at=now,
        )
        .on_conflict_do_nothing(
            index_elements=[SlaBreach.ticket_id, SlaBreach.kind, SlaBreach.window_start]
        )
        .returning(SlaBreach.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def breach_kinds(session: AsyncSession, ticket: Ticket) -> set[str]:
    """Warnings and breaches already recorded in the ticket's current windows."""
    rows = await session.execute(
        select(SlaBreach.kind).where(
            SlaBreach.ticket_id == ticket.id,
            or_(
                and_(
                    SlaBreach.kind.like("first_response%"),
                    SlaBreach.window_start == ticket.created_at,
                ),
                and_(
                    SlaBreach.kind.like("resolution%"),
                    SlaBreach.window_start == ticket.resolution_window_start,
                ),
            ),
        )
    )
    return set(rows.scalars())


async def unsent_notification_ids(session: AsyncSession, ticket_id: uuid.UUID) -> list[int]:
    rows = await session.execute(
        select(Notification.id)
        .where(Notification.ticket_id == ticket_id, Notification.sent_at.is_(None))
        .order_by(Notification.id)
    )
    return list(rows.scalars())


async def notification_ids_by_key(session: AsyncSession, dedupe_key: str) -> list[int]:
    rows = await session.execute(
        select(Notification.id).where(Notification.dedupe_key == dedupe_key)
    )
    return list(rows.scalars())


async def count_attempts(session: AsyncSession, notification_ids: list[int]) -> list[int]:
    """Record a delivery attempt on each unsent notification; returns those (already sent
    ones drop out)."""
    result = await session.execute(
        update(Notification)
        .where(Notification.id.in_(notification_ids), Notification.sent_at.is_(None))
        .values(attempts=Notification.attempts + 1)
        .returning(Notification.id)
    )
    return sorted(result.scalars())


async def claim_notifications(
    session: AsyncSession, notification_ids: list[int]
) -> list[tuple[Notification, Ticket]]:
    """Lock the unsent ones with their tickets; rows another sender holds are skipped, so two
    live senders never both send one."""
    rows = await session.execute(
        select(Notification, Ticket)
        .join(Ticket, Ticket.id == Notification.ticket_id)
        .where(Notification.id.in_(notification_ids), Notification.sent_at.is_(None))
        .order_by(Notification.id)
        .with_for_update(of=Notification, skip_locked=True)
    )
    return [(note, ticket) for note, ticket in rows.tuples()]


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
