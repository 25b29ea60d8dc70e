"""Tables of the email channel: mailboxes, every received mail, a ticket's mail participants."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.core.orm import Base, enum_type


class SenderPolicy(StrEnum):
    """Who may open or answer tickets by mail at a mailbox."""

    CUSTOMERS = "customers"
    DOMAINS = "domains"
    ANYONE = "anyone"


class MailOutcome(StrEnum):
    CREATED = "created"
    APPENDED = "appended"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    BOUNCE = "bounce"
    HELD = "held"
    REJECTED = "rejected"


class Mailbox(Base):
    """An inbound address of one tenant (stored lower-case; unique across tenants)."""

    __tablename__ = "mailboxes"

    address: Mapped[str] = mapped_column(String(254), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    senders: Mapped[SenderPolicy] = mapped_column(enum_type(SenderPolicy, 16))
    domains: Mapped[list[Any]] = mapped_column(default=list)
    require_auth: Mapped[bool] = mapped_column(Boolean, default=False)
    # imap://USER@HOST:PORT/FOLDER or imaps://…, never with the password in it.
    imap_url: Mapped[str | None] = mapped_column(String(1000))
    # Fernet token of the IMAP password under a key derived from TICKETING_SECRET_KEY.
    imap_password: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class InboundMail(Base):
    """Every mail received, stored before anything is decided; its outcome once decided."""

    __tablename__ = "inbound_mails"
    __table_args__ = (
        # One mail per tenant: the Message-ID, or a digest of the raw message without one.
        UniqueConstraint("tenant_id", "message_key"),
        Index("ix_inbound_mails_tenant_sender_received", "tenant_id", "sender", "received_at"),
        Index("ix_inbound_mails_tenant_message_id", "tenant_id", "message_id"),
        Index("ix_inbound_mails_tenant_outcome_id", "tenant_id", "outcome", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    mailbox: Mapped[str] = mapped_column(String(254))
    message_key: Mapped[str] = mapped_column(String(300))
    message_id: Mapped[str | None] = mapped_column(String(300))
    sender: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    # None only for a message refused for its size (kept with the reason, not its bytes).
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    # None while undecided: a crash between storing and deciding leaves it for the retry.
    outcome: Mapped[MailOutcome | None] = mapped_column(enum_type(MailOutcome, 16))
    reason: Mapped[str | None] = mapped_column(Text)
    ticket_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tickets.id"), index=True
    )
    # The ticket message this mail became (a follow-up), for its attachments and the timeline.
    ticket_message_id: Mapped[int | None] = mapped_column(BigInteger)
    received_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]


class TicketParticipant(Base):
    """An address the customer copied on mail to a ticket: it may answer that ticket by mail."""

    __tablename__ = "ticket_participants"
    __table_args__ = (UniqueConstraint("ticket_id", "address"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    ticket_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("tickets.id"))
    address: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime]
