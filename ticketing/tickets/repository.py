"""All SQL about tickets, their messages and events; the scope of every read is applied here."""

from __future__ import annotations

import json
import typing
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asyncpg.exceptions import UniqueViolationError
from sqlalchemy import ColumnElement, Select, String, cast, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal
from ticketing.auth.scope import ticket_scope
from ticketing.core import outbox_keys
from ticketing.core.enums import (
    DONE_STATUSES,
    Actor,
    Channel,
    EventKind,
    Priority,
    TicketStatus,
    TicketType,
)
from ticketing.db.driver import driver_connection, positional
from ticketing.tenants.models import Customer, Tenant
from ticketing.tickets.models import Ticket, TicketEvent, TicketMessage
from ticketing.tickets.numbering import format_ticket_number, parse_ticket_number

COUNTER = "ticket"


def scoped_tickets(principal: Principal) -> Select[tuple[Ticket]]:
    """The one base query every ticket read starts from: what `principal` may see at all."""
    scope = ticket_scope(principal)
    query = select(Ticket)
    if scope.ticket_id is not None:
        query = query.where(Ticket.id == scope.ticket_id)
    if scope.tenant_id is not None:
        query = query.where(Ticket.tenant_id == scope.tenant_id)
    if scope.partner_id is not None:
        partner_tenants = select(Tenant.id).where(Tenant.partner_id == scope.partner_id)
        query = query.where(Ticket.tenant_id.in_(partner_tenants))
    if scope.customer_id is not None:
        query = query.where(Ticket.customer_id == scope.customer_id)
    if scope.min_escalation_level:
        query = query.where(Ticket.escalation_level >= scope.min_escalation_level)
    return query


@dataclass(frozen=True)
class NewTicketRow:
    """A ticket about to be inserted, with the companions the insert writes alongside; its
    number is taken by the insert itself."""

    id: uuid.UUID
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
    # The request's fingerprint, kept with its idempotency key (see tickets.creation).
    idempotency_fingerprint: str | None = None


# The next number and the ticket, its first message, `created` event and `ticket_created`
# notice, in one statement. The counter row stays locked until the statement's transaction
# ends, which keeps numbers gap-free: a statement that fails takes its increment with it.
_INSERT_TICKET = """
WITH counter AS (
    UPDATE ticket_counters SET value = value + 1 WHERE name = :counter RETURNING value
), ticket AS (
    INSERT INTO tickets (
        id, number, tenant_id, customer_id, title, description,
        origin_type, target_type, priority, ticket_type, status, channel, assigned_team,
        service_address, affected_services, device_serial_numbers, requester_email,
        idempotency_key, context, metadata, first_response_due, sla_due_date,
        resolution_window_start, sla_pauses, sla_breached, escalation_level,
        created_at, updated_at, idempotency_fingerprint)
    SELECT :id, value, :tenant_id, :customer_id, :title, :description,
        :origin_type, :target_type, :priority, :ticket_type, 'open', :channel, :assigned_team,
        :service_address, CAST(:affected_services AS jsonb),
        CAST(:device_serial_numbers AS jsonb), :requester_email, :idempotency_key,
        CAST(:context AS jsonb), CAST(:metadata AS jsonb), :first_response_due, :sla_due_date,
        :created_at, '[]'::jsonb, false, 1, :created_at, :created_at, :idempotency_fingerprint
    FROM counter
    {on_conflict}
    RETURNING id, tenant_id, number
), message AS (
    INSERT INTO ticket_messages (ticket_id, author_actor, author, body, is_internal, created_at)
    SELECT id, 'customer', :author, :description, false, :created_at FROM ticket
), event AS (
    INSERT INTO ticket_events (ticket_id, kind, actor, data, created_at)
    SELECT id, 'created', :author, CAST(:event_data AS jsonb), :created_at FROM ticket
), outbox AS (
    INSERT INTO notifications (dedupe_key, ticket_id, tenant_id, kind, recipient, payload,
                               created_at, attempts)
    SELECT :created_key, id, tenant_id, 'ticket_created', :recipient, '{{}}'::jsonb,
           :created_at, 0
    FROM ticket
)
SELECT number FROM ticket
"""
_INSERT_PARAMS = (
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
    "created_at",
    "author",
    "event_data",
    "recipient",
    "counter",
    "idempotency_fingerprint",
    "created_key",
)
# Inside a caller's transaction a duplicate key must not abort that transaction: the insert
# skips, and the caller hands the number back while it still holds the counter lock.
_INSERT_IN_TRANSACTION = positional(
    _INSERT_TICKET.format(on_conflict="ON CONFLICT (tenant_id, idempotency_key) DO NOTHING"),
    _INSERT_PARAMS,
)
# Alone, the statement is its own transaction: a duplicate key fails it whole, increment
# included.
_INSERT_ALONE = positional(_INSERT_TICKET.format(on_conflict=""), _INSERT_PARAMS)
_IDEMPOTENCY_CONSTRAINT = "uq_tickets_tenant_id_idempotency_key"


async def insert_ticket(session: AsyncSession, new: NewTicketRow, *, alone: bool) -> int | None:
    """Insert a new ticket with its companions and return its number; None when a ticket with
    its idempotency key exists. `alone`: the statement commits by itself (the session must
    have no transaction); else it runs inside the session's open transaction.

    The hottest statement of the product: prepared, on the driver connection.
    """
    driver = await driver_connection(session, transaction=not alone)
    event_data = {"channel": new.channel.value, "priority": new.priority.value}
    args = (
        new.id,
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
        COUNTER,
        new.idempotency_fingerprint,
        outbox_keys.ticket_created(new.id),
    )
    if alone:
        try:
            return typing.cast(int | None, await driver.fetchval(_INSERT_ALONE, *args))
        except UniqueViolationError as error:
            if error.constraint_name != _IDEMPOTENCY_CONSTRAINT:
                raise
            return None
    number = typing.cast(int | None, await driver.fetchval(_INSERT_IN_TRANSACTION, *args))
    if number is None:
        # The counter was bumped before the insert skipped; we still hold its lock.
        await driver.fetchval(_GIVE_BACK, COUNTER)
    return number


_GIVE_BACK = "UPDATE ticket_counters SET value = value - 1 WHERE name = $1"


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
    # Any of these statuses (the desk's "unsolved"); `status` narrows further.
    statuses: frozenset[TicketStatus] | None = None
    # One tenant of those the principal sees (platform staff's tenant filter).
    tenant_id: str | None = None
    # Linked to an outage (True), not linked (False), either (None): the desk's "Outage".
    outage: bool | None = None


async def list_tickets(
    session: AsyncSession, principal: Principal, filters: TicketFilters, limit: int
) -> list[Ticket]:
    """Newest first; at most `limit` rows."""
    query = scoped_tickets(principal)
    if filters.tenant_id is not None:
        query = query.where(Ticket.tenant_id == filters.tenant_id)
    if filters.status is not None:
        query = query.where(Ticket.status == filters.status)
    if filters.statuses is not None:
        query = query.where(Ticket.status.in_(sorted(filters.statuses)))
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
    if filters.outage is not None:
        linked = Ticket.outage_number.is_not(None)
        query = query.where(linked if filters.outage else ~linked)
    if filters.search:
        escaped = filters.search.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        pattern = f"%{escaped}%"
        matches: list[ColumnElement[bool]] = [
            Ticket.title.ilike(pattern),
            cast(Ticket.customer_id, String).ilike(pattern),
        ]
        number = parse_ticket_number(filters.search)
        if number is not None:
            matches.append(Ticket.number == number)
        if "@" in filters.search:
            # The customers with that address (any case), through their (tenant, email) index.
            customers = select(Customer.tenant_id, Customer.id).where(
                func.lower(Customer.email) == filters.search.strip().lower()
            )
            matches.append(tuple_(Ticket.tenant_id, Ticket.customer_id).in_(customers))
        query = query.where(or_(*matches))
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
    """(id, number, ticket number, status) of tickets numbered above `after_number` that are
    open, or done since `done_since` (whose watchers may not have heard), oldest first."""
    rows = await session.execute(
        select(Ticket.id, Ticket.number, Ticket.status)
        .where(
            Ticket.number > after_number,
            or_(Ticket.status.not_in(DONE_STATUSES), Ticket.updated_at >= done_since),
        )
        .order_by(Ticket.number)
        .limit(limit)
    )
    return [(row[0], row[1], format_ticket_number(row[1]), row[2]) for row in rows]


async def count_by_status(
    session: AsyncSession, principal: Principal, tenant_id: str | None
) -> dict[TicketStatus, int]:
    """How many tickets `principal` sees in each status (of one tenant, if named): one
    index-only pass over (tenant_id, status, number) per tenant."""
    scoped = scoped_tickets(principal)
    if tenant_id is not None:
        scoped = scoped.where(Ticket.tenant_id == tenant_id)
    query = scoped.with_only_columns(Ticket.status, func.count()).group_by(Ticket.status)
    return {TicketStatus(status): int(count) for status, count in await session.execute(query)}
