"""All SQL about tickets, their messages and events; the scope of every read is applied here."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, cast, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal, Role
from ticketing.core.enums import (
    DONE_STATUSES,
    Actor,
    Channel,
    EventKind,
    Priority,
    TicketStatus,
    TicketType,
)
from ticketing.db_driver import driver_connection, positional
from ticketing.tenants.models import Tenant
from ticketing.tickets.models import Ticket, TicketCounter, TicketEvent, TicketMessage

COUNTER = "ticket"


def scoped_tickets(principal: Principal) -> Select[tuple[Ticket]]:
    """The one base query every ticket read starts from: what `principal` may see at all."""
    query = select(Ticket)
    if principal.sees_everything:
        return query
    if principal.role is Role.SYSTEM:
        return query.where(Ticket.id == principal.ticket_id)
    if principal.role is Role.PARTNER_AGENT:
        # Tickets of the partner's tenants once escalated past L1 (to the partner or beyond).
        partner_tenants = select(Tenant.id).where(Tenant.partner_id == principal.partner_id)
        return query.where(Ticket.tenant_id.in_(partner_tenants), Ticket.escalation_level >= 2)
    query = query.where(Ticket.tenant_id == principal.tenant_id)
    if principal.role is Role.CUSTOMER:
        query = query.where(Ticket.customer_id == principal.customer_id)
    return query


@dataclass(frozen=True)
class CreateContext:
    """Everything a create needs from the database, read in its first statement."""

    customer_id: str
    customer_email: str | None
    tenant_id: str
    partner_id: str | None
    sla_policy: dict[str, Any] | None
    calendar: dict[str, Any] | None
    existing_ticket_id: uuid.UUID | None
    # The counter value taken for the new ticket (row locked until commit); None when a ticket
    # already exists for the idempotency key and nothing was taken.
    number: int | None


# One round trip: the customer and its tenant's SLA settings, any ticket already made for this
# key, and (only if there is none) the next number. The counter row stays locked until commit,
# which keeps numbers gap-free.
_BEGIN_CREATE = text(
    """
WITH ctx AS (
    SELECT c.id, c.email, t.id AS tenant_id, t.partner_id, t.sla_policy, t.calendar,
           (SELECT k.id FROM tickets k
             WHERE k.tenant_id = c.tenant_id AND k.idempotency_key = :key) AS existing
    FROM customers c JOIN tenants t ON t.id = c.tenant_id
    WHERE c.id = :customer_id AND (CAST(:tenant_id AS text) IS NULL OR c.tenant_id = :tenant_id)
), counter AS (
    UPDATE ticket_counters SET value = value + 1
    WHERE name = :counter AND EXISTS (SELECT 1 FROM ctx WHERE existing IS NULL)
    RETURNING value
)
SELECT ctx.*, (SELECT value FROM counter) FROM ctx
"""
)


async def begin_create(
    session: AsyncSession, *, tenant_id: str | None, customer_id: str, idempotency_key: str | None
) -> CreateContext | None:
    """Open the create: context and number in one statement; None if no such customer (in
    `tenant_id`, when given)."""
    row = (
        await session.execute(
            _BEGIN_CREATE,
            {
                "customer_id": customer_id,
                "tenant_id": tenant_id,
                "key": idempotency_key,
                "counter": COUNTER,
            },
        )
    ).one_or_none()
    return None if row is None else CreateContext(*row)


@dataclass(frozen=True)
class NewTicket:
    """A ticket about to be inserted, with the companions the insert writes alongside."""

    id: uuid.UUID
    number: int
    ticket_number: str
    tenant_id: str
    customer_id: str
    title: str
    description: str
    origin_type: Actor
    target_type: Actor
    priority: Priority
    ticket_type: TicketType
    channel: Channel
    assigned_team: str | None
    service_address: str | None
    affected_services: list[str]
    device_serial_numbers: list[str]
    requester_email: str | None
    idempotency_key: str | None
    context: dict[str, Any]
    metadata: dict[str, Any]
    first_response_due: datetime | None
    sla_due_date: datetime | None
    created_at: datetime
    # The first message's author and the created notice's recipient.
    author: str | None
    recipient: str | None


# The ticket unless its idempotency key exists, and its first message, `created` event and
# `ticket_created` notice only if the ticket row went in.
_INSERT_TICKET = """
WITH ticket AS (
    INSERT INTO tickets (
        id, number, ticket_number, tenant_id, customer_id, title, description,
        origin_type, target_type, priority, ticket_type, status, channel, assigned_team,
        service_address, affected_services, device_serial_numbers, requester_email,
        idempotency_key, context, metadata, first_response_due, sla_due_date,
        resolution_window_start, sla_pauses, sla_breached, escalation_level,
        created_at, updated_at)
    VALUES (:id, :number, :ticket_number, :tenant_id, :customer_id, :title, :description,
        :origin_type, :target_type, :priority, :ticket_type, 'open', :channel, :assigned_team,
        :service_address, CAST(:affected_services AS jsonb),
        CAST(:device_serial_numbers AS jsonb), :requester_email, :idempotency_key,
        CAST(:context AS jsonb), CAST(:metadata AS jsonb), :first_response_due, :sla_due_date,
        :created_at, '[]'::jsonb, false, 1, :created_at, :created_at)
    ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
    RETURNING id, tenant_id
), message AS (
    INSERT INTO ticket_messages (ticket_id, author_actor, author, body, is_internal, created_at)
    SELECT id, 'customer', :author, :description, false, :created_at FROM ticket
), event AS (
    INSERT INTO ticket_events (ticket_id, kind, actor, data, created_at)
    SELECT id, 'created', :author, CAST(:event_data AS jsonb), :created_at FROM ticket
), outbox AS (
    INSERT INTO notifications (dedupe_key, ticket_id, tenant_id, kind, recipient, payload,
                               created_at, attempts)
    SELECT 'ticket_created:' || id, id, tenant_id, 'ticket_created', :recipient, '{}'::jsonb,
           :created_at, 0
    FROM ticket
)
SELECT count(*) FROM ticket
"""
_INSERT_PARAMS = (
    "id",
    "number",
    "ticket_number",
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
    "created_at",
    "author",
    "event_data",
    "recipient",
)
_INSERT_TICKET_SQL = positional(_INSERT_TICKET, _INSERT_PARAMS)


async def insert_ticket(session: AsyncSession, new: NewTicket) -> bool:
    """Insert a new ticket with its companions; False when the idempotency key already exists.

    The hottest statement of the product: a prepared statement on the driver connection, inside
    the transaction `begin_create` opened.
    """
    driver = await driver_connection(session)
    event_data = {"channel": new.channel.value, "priority": new.priority.value}
    inserted = await driver.fetchval(
        _INSERT_TICKET_SQL,
        new.id,
        new.number,
        new.ticket_number,
        new.tenant_id,
        new.customer_id,
        new.title,
        new.description,
        new.origin_type.value,
        new.target_type.value,
        new.priority.value,
        new.ticket_type.value,
        new.channel.value,
        new.assigned_team,
        new.service_address,
        json.dumps(new.affected_services),
        json.dumps(new.device_serial_numbers),
        new.requester_email,
        new.idempotency_key,
        json.dumps(new.context),
        json.dumps(new.metadata),
        new.first_response_due,
        new.sla_due_date,
        new.created_at,
        new.author,
        json.dumps(event_data),
        new.recipient,
    )
    return bool(inserted)


async def give_back_number(session: AsyncSession) -> None:
    """Undo this transaction's counter increment (we still hold the row lock)."""
    await session.execute(
        update(TicketCounter)
        .where(TicketCounter.name == COUNTER)
        .values(value=TicketCounter.value - 1)
    )


async def find_ticket(
    session: AsyncSession,
    principal: Principal,
    ref: uuid.UUID | int,
    *,
    for_update: bool = False,
) -> Ticket | None:
    """One ticket by id or number, if `principal` may see it."""
    query = scoped_tickets(principal)
    query = query.where(Ticket.id == ref if isinstance(ref, uuid.UUID) else Ticket.number == ref)
    # populate_existing: the SLA path writes with plain SQL, so a ticket already in this
    # session's identity map may be older than its row.
    query = query.execution_options(populate_existing=True)
    if for_update:
        query = query.with_for_update(of=Ticket)
    return (await session.execute(query)).scalar_one_or_none()


@dataclass(frozen=True)
class TicketFilters:
    status: TicketStatus | None = None
    priority: Priority | None = None
    ticket_type: str | None = None
    assigned_to: str | None = None
    assigned_team: str | None = None
    breached: bool | None = None
    search: str | None = None
    # Keyset pagination: only tickets numbered below this.
    before_number: int | None = None


async def list_tickets(
    session: AsyncSession, principal: Principal, filters: TicketFilters, limit: int
) -> list[Ticket]:
    """Newest first; at most `limit` rows."""
    query = scoped_tickets(principal)
    if filters.status is not None:
        query = query.where(Ticket.status == filters.status)
    if filters.priority is not None:
        query = query.where(Ticket.priority == filters.priority)
    if filters.ticket_type is not None:
        query = query.where(cast(Ticket.ticket_type, String) == filters.ticket_type)
    if filters.assigned_to is not None:
        query = query.where(Ticket.assigned_to == filters.assigned_to)
    if filters.assigned_team is not None:
        query = query.where(Ticket.assigned_team == filters.assigned_team)
    if filters.breached is not None:
        query = query.where(Ticket.sla_breached.is_(filters.breached))
    if filters.search:
        escaped = filters.search.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        pattern = f"%{escaped}%"
        query = query.where(
            or_(
                Ticket.ticket_number.ilike(pattern),
                Ticket.title.ilike(pattern),
                cast(Ticket.customer_id, String).ilike(pattern),
            )
        )
    if filters.before_number is not None:
        query = query.where(Ticket.number < filters.before_number)
    rows = await session.execute(query.order_by(Ticket.number.desc()).limit(limit))
    return list(rows.scalars())


def add_event(
    session: AsyncSession,
    ticket_id: uuid.UUID,
    kind: EventKind,
    now: datetime,
    *,
    actor: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    session.add(
        TicketEvent(ticket_id=ticket_id, kind=kind, actor=actor, data=data or {}, created_at=now)
    )


async def messages(
    session: AsyncSession, ticket_id: uuid.UUID, *, public_only: bool
) -> list[TicketMessage]:
    query = select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)
    if public_only:
        query = query.where(TicketMessage.is_internal.is_(False))
    rows = await session.execute(query.order_by(TicketMessage.id))
    return list(rows.scalars())


async def events(
    session: AsyncSession, ticket_id: uuid.UUID, *, kinds: frozenset[EventKind] | None
) -> list[TicketEvent]:
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
    if kinds is not None:
        query = query.where(TicketEvent.kind.in_(kinds))
    rows = await session.execute(query.order_by(TicketEvent.id))
    return list(rows.scalars())


async def tickets_to_reconcile(
    session: AsyncSession, *, after_number: int, limit: int, done_since: datetime
) -> list[tuple[uuid.UUID, int, str, TicketStatus]]:
    """(id, number, ticket_number, status) of tickets numbered above `after_number` that are
    open, or done since `done_since` (whose watchers may not have heard), oldest first."""
    rows = await session.execute(
        select(Ticket.id, Ticket.number, Ticket.ticket_number, Ticket.status)
        .where(
            Ticket.number > after_number,
            or_(Ticket.status.not_in(DONE_STATUSES), Ticket.updated_at >= done_since),
        )
        .order_by(Ticket.number)
        .limit(limit)
    )
    return [(row[0], row[1], row[2], row[3]) for row in rows]
