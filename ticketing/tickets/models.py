"""Tables of tickets, their counter, messages and events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.core.enums import Actor, Channel, EventKind, Priority, TicketStatus, TicketType
from ticketing.core.orm import Base, enum_type


class TicketCounter(Base):
    """One row per counter; updated inside the ticket's own transaction so numbers stay gap-free."""

    __tablename__ = "ticket_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"]),
        CheckConstraint("char_length(title) between 1 and 200", name="title_length"),
        CheckConstraint("escalation_level between 1 and 3", name="escalation_level_range"),
        Index("ix_tickets_tenant_status_number", "tenant_id", "status", "number"),
        Index("ix_tickets_tenant_number", "tenant_id", "number"),
        # The desk queue's filters, newest first (migration 0022).
        Index("ix_tickets_tenant_priority_number", "tenant_id", "priority", "number"),
        Index("ix_tickets_tenant_assigned_to_number", "tenant_id", "assigned_to", "number"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, unique=True)
    # The ticket number (TKT-000123) is format_ticket_number(number), never stored.
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    origin_type: Mapped[Actor] = mapped_column(enum_type(Actor, 16))
    target_type: Mapped[Actor] = mapped_column(enum_type(Actor, 16))
    priority: Mapped[Priority] = mapped_column(enum_type(Priority, 16))
    ticket_type: Mapped[TicketType] = mapped_column(enum_type(TicketType, 32))
    status: Mapped[TicketStatus] = mapped_column(enum_type(TicketStatus, 16))
    channel: Mapped[Channel] = mapped_column(enum_type(Channel, 16))
    assigned_team: Mapped[str | None] = mapped_column(String(100))
    assigned_to: Mapped[str | None] = mapped_column(String(200))
    service_address: Mapped[str | None] = mapped_column(String(500))
    affected_services: Mapped[list[Any]] = mapped_column(default=list)
    device_serial_numbers: Mapped[list[Any]] = mapped_column(default=list)
    requester_email: Mapped[str | None] = mapped_column(String(254))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # SHA-256 of the request the key first came with (HTTP creates; see tickets.fingerprint).
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(64))
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    first_response_due: Mapped[datetime | None]
    sla_due_date: Mapped[datetime | None]
    resolution_window_start: Mapped[datetime]
    # [[paused_at, resumed_at | null], ...] as ISO strings: paused time extends the due dates.
    sla_pauses: Mapped[list[Any]] = mapped_column(default=list)
    sla_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    escalation_level: Mapped[int] = mapped_column(Integer, default=1)
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    resolution_time_minutes: Mapped[int | None]
    escalated_at: Mapped[datetime | None]
    escalated_to_user_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # When personal data was first erased: the public tracking page no longer opens it.
    erased_at: Mapped[datetime | None]
    # The ticket this one was merged into: replies to this one land there.
    merged_into: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tickets.id")
    )
    # When it last began waiting on the customer (null unless pending).
    pending_since: Mapped[datetime | None]
    # The number of the outage the ticket is linked to (its clocks stop while it is active).
    outage_number: Mapped[int | None] = mapped_column(BigInteger)


class TicketMessage(Base):
    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id"), index=True)
    author_actor: Mapped[Actor] = mapped_column(enum_type(Actor, 16))
    author: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    is_internal: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class TicketEvent(Base):
    """Append-only timeline and audit trail."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[EventKind] = mapped_column(enum_type(EventKind, 32))
    actor: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
