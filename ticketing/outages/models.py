"""Tables of outages (beside their parent ticket) and their numbered updates."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.core.orm import Base, enum_type
from ticketing.outages.schemas import NotifyMode, OutageStatus, UpdateKind


class Outage(Base):
    """An outage: its parent ticket's id and number, the tags it affects, and how far the
    notices of its latest update have got (`sent_seq`, `cursor`: the durable page position)."""

    __tablename__ = "outages"
    __table_args__ = (UniqueConstraint("tenant_id", "declare_key"),)

    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(BigInteger, unique=True)
    title: Mapped[str] = mapped_column(String(200))
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(100)))
    eta: Mapped[datetime | None]
    notify: Mapped[NotifyMode] = mapped_column(enum_type(NotifyMode, 16))
    status: Mapped[OutageStatus] = mapped_column(enum_type(OutageStatus, 16))
    # The latest update's number; every update up to `sent_seq` has reached every customer.
    seq: Mapped[int] = mapped_column(Integer)
    sent_seq: Mapped[int] = mapped_column(Integer)
    # Within update `sent_seq + 1`: the last customer id done (pages go in customer id order).
    cursor: Mapped[str | None] = mapped_column(String(64))
    declare_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class OutageUpdate(Base):
    __tablename__ = "outage_updates"
    __table_args__ = (
        UniqueConstraint("outage_id", "seq"),
        UniqueConstraint(
            "outage_id", "idempotency_key", name="uq_outage_updates_outage_id_idempotency_key"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    outage_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("outages.ticket_id")
    )
    tenant_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[UpdateKind] = mapped_column(enum_type(UpdateKind, 16))
    body: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    # Customers mailed this update (counted as pages queue their notices).
    notified: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
