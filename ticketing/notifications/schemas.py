"""A ticket's notices as `ticket show --json` and the API show them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from ticketing.core.enums import NoticeKind
from ticketing.notifications.models import NoticeStatus


class NoticeInfo(BaseModel):
    id: int
    kind: NoticeKind
    recipient: str | None
    status: NoticeStatus
    attempts: int
    # Why it failed, or the last transient failure of a row still queued.
    reason: str | None
    created_at: datetime
    sent_at: datetime | None
    failed_at: datetime | None
