"""The outbox's dedupe keys keep their spelling: rows queued by an earlier release must still
stop a retry of the same notice after an upgrade."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from ticketing.core import outbox_keys
from ticketing.core.enums import NoticeKind
from ticketing.sla.thresholds import SlaWindow, ThresholdKind

TICKET = uuid.UUID("8d3f5a4e-1c2b-4d5e-9f60-123456789abc")
AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_the_keys_as_stored_by_earlier_releases() -> None:
    assert outbox_keys.ticket_created(TICKET) == f"ticket_created:{TICKET}"
    assert (
        outbox_keys.ticket_notice(NoticeKind.SUPPORT_REPLIED, TICKET, "m12")
        == f"support_replied:{TICKET}:m12:customer"
    )
    assert (
        outbox_keys.threshold(ThresholdKind.warning(SlaWindow.RESOLUTION, 50), TICKET, AT)
        == f"resolution_warning_50:{TICKET}:2026-03-02T09:30:00+00:00"
    )
    assert outbox_keys.escalated(TICKET, 2, AT) == f"escalated:{TICKET}:2:2026-03-02T09:30:00+00:00"
