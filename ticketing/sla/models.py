"""The table of recorded SLA thresholds (warnings and breaches)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.core.orm import Base


class SlaBreach(Base):
    __tablename__ = "sla_breaches"
    __table_args__ = (UniqueConstraint("ticket_id", "kind", "window_start"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id"), index=True)
    # str(ThresholdKind): "first_response", "resolution_warning", "resolution_warning_90", …
    kind: Mapped[str] = mapped_column(String(32))
    window_start: Mapped[datetime]
    escalation_level: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
