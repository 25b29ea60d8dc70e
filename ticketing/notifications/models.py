"""The outbox table: one row per notice and recipient."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.core.enums import NoticeKind
from ticketing.core.orm import Base, enum_type


class NoticeStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    # Final: a permanent refusal, or transient ones past the retry bound; `reason` says which.
    FAILED = "failed"


class Notification(Base):
    """Outbox: written in the same transaction as the change it reports, sent afterwards."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    ticket_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[NoticeKind] = mapped_column(enum_type(NoticeKind, 32))
    recipient: Mapped[str | None] = mapped_column(String(254))
    # Rendered when sent, from the ticket as it is then and this payload.
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[NoticeStatus] = mapped_column(
        enum_type(NoticeStatus, 16), default=NoticeStatus.QUEUED, server_default="queued"
    )
    reason: Mapped[str | None] = mapped_column(Text)
    # While a sender holds the row this is its lease's end; a crashed sender's row is due again.
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    failed_at: Mapped[datetime | None]
    message_id: Mapped[str | None] = mapped_column(String(300))
