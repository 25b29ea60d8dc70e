"""SQLAlchemy 2 typed ORM: the tables the migrations create."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Timestamp = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: Timestamp, dict[str, Any]: JSONB, list[Any]: JSONB}


class Partner(Base):
    __tablename__ = "partners"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"))
    support_email: Mapped[str | None] = mapped_column(String(254))
    # SlaPolicy.to_dict() and BusinessCalendar.to_dict(); NULL means the built-in defaults.
    sla_policy: Mapped[dict[str, Any] | None]
    calendar: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Customer(Base):
    __tablename__ = "customers"

    # The caller's id (integer digits or lower-case UUID), unique across the platform so a
    # request naming a customer and another tenant is caught as a mismatch.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class TicketCounter(Base):
    """One row per counter; updated inside the ticket's own transaction so numbers stay gap-free."""

    __tablename__ = "ticket_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        CheckConstraint("char_length(title) between 1 and 200", name="title_length"),
        CheckConstraint("escalation_level between 1 and 3", name="escalation_level_range"),
        Index("ix_tickets_tenant_status_number", "tenant_id", "status", "number"),
        Index("ix_tickets_tenant_number", "tenant_id", "number"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, unique=True)
    ticket_number: Mapped[str] = mapped_column(String(24), unique=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    origin_type: Mapped[str] = mapped_column(String(16))
    target_type: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(16))
    ticket_type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    assigned_team: Mapped[str | None] = mapped_column(String(100))
    assigned_to: Mapped[str | None] = mapped_column(String(200))
    service_address: Mapped[str | None] = mapped_column(String(500))
    affected_services: Mapped[list[Any]] = mapped_column(default=list)
    device_serial_numbers: Mapped[list[Any]] = mapped_column(default=list)
    requester_email: Mapped[str | None] = mapped_column(String(254))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
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


class TicketMessage(Base):
    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id"), index=True)
    author_actor: Mapped[str] = mapped_column(String(16))
    author: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    is_internal: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class TicketEvent(Base):
    """Append-only timeline and audit trail."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class SlaBreach(Base):
    __tablename__ = "sla_breaches"
    __table_args__ = (UniqueConstraint("ticket_id", "kind", "window_start"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id"), index=True)
    # "first_response_warning", "first_response", "resolution_warning" or "resolution".
    kind: Mapped[str] = mapped_column(String(32))
    window_start: Mapped[datetime]
    escalation_level: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime]
    recorded_at: Mapped[datetime]


class Notification(Base):
    """Outbox: written in the same transaction as the change it reports, sent afterwards."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    ticket_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str | None] = mapped_column(String(254))
    # Rendered when sent, from the ticket as it is then and this payload.
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
