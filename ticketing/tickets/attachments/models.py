"""Tables of attachments: what is known of each file, and the bytes when PostgreSQL keeps them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.core.orm import Base


class Attachment(Base):
    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_ticket_id", "ticket_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id"))
    # The ticket message it came with; None: with the ticket itself (its description).
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # Which store holds the bytes ("postgres", "filesystem") and its key there.
    storage: Mapped[str] = mapped_column(String(32))
    storage_ref: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]


class AttachmentBlob(Base):
    """The bytes of an attachment kept by the PostgreSQL store (the default)."""

    __tablename__ = "attachment_blobs"

    attachment_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("attachments.id"), primary_key=True
    )
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    data: Mapped[bytes] = mapped_column(LargeBinary)
