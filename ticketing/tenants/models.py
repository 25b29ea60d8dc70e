"""Tables of partners, tenants and customers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.core.orm import Base


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
    # sla.stored.policy_to_dict() and BusinessCalendar.to_dict(); NULL means the defaults.
    sla_policy: Mapped[dict[str, Any] | None]
    calendar: Mapped[dict[str, Any] | None]
    # Which outage tags the public status page shows: exact tags, or prefixes ending in ':'
    # (`postcode:`); empty shows none (migration 0028).
    public_tags: Mapped[list[str]] = mapped_column(
        ARRAY(String(100)), default=list, server_default=text("'{}'::varchar[]")
    )
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Customer(Base):
    __tablename__ = "customers"
    # Ticket search by customer email, any case (migration 0022).
    __table_args__ = (Index("ix_customers_tenant_email", "tenant_id", text("lower(email)")),)

    # The caller's id (integer digits or lower-case UUID), unique within its tenant: two tenants
    # may each have a customer 42.
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True, index=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254))
    name: Mapped[str | None] = mapped_column(String(200))
    # The plan (tier) SLA rules may match, e.g. "enterprise"; None matches no plan rule.
    plan: Mapped[str | None] = mapped_column(String(100))
    # Network tags (`olt:berlin-7`): the outages that affect the customer (migration 0025).
    tags: Mapped[list[str]] = mapped_column(
        ARRAY(String(100)), default=list, server_default=text("'{}'::varchar[]")
    )
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
