"""What the watcher reads and records: SLA snapshots and threshold results."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel

from ticketing.core.enums import Priority, TicketStatus
from ticketing.core.fields import Contract


class SlaSnapshot(BaseModel):
    """What the escalation watcher needs to decide when to wake next."""

    ticket_id: uuid.UUID
    ticket_number: str
    tenant_id: str
    status: TicketStatus
    phase: str
    paused: bool
    # Optional so snapshots recorded before it existed still decode during replay.
    priority: Priority | None = None
    first_response_met: bool
    first_response_due: datetime | None
    first_response_warning_at: datetime | None
    sla_due_date: datetime | None
    resolution_warning_at: datetime | None
    resolution_window_start: datetime
    breached: list[str]
    warned: list[str]
    escalation_level: int
    next_kind: str | None
    next_at: datetime | None
    # Defaulted so snapshots recorded before next-reply targets still decode during replay.
    next_reply_due: datetime | None = None


class SnapshotInput(Contract):
    ticket_id: uuid.UUID
    now: AwareDatetime


class RecordBreachInput(Contract):
    ticket_id: uuid.UUID
    kind: str
    now: AwareDatetime


class AutoCloseInput(Contract):
    """One auto-close sweep as of the workflow's `now`, closing at most `limit` tickets."""

    now: AwareDatetime
    limit: int = 200


class EscalateInput(Contract):
    ticket_id: uuid.UUID
    from_level: int
    now: AwareDatetime


class BreachResult(BaseModel):
    recorded: bool
    escalated: bool
    notification_ids: list[int]
    snapshot: SlaSnapshot


class WindowOutcomeInfo(BaseModel):
    """One SLA window of a ticket: due when, done when, met or missed and by how much."""

    window: str
    due: datetime
    done_at: datetime | None
    # None while the window is open and not yet overdue.
    met: bool | None
    # Business minutes to spare (positive) or by which the window was missed (negative).
    margin_minutes: float


class SlaStatisticsInfo(BaseModel):
    """Business-time figures of a ticket, net of the time it waited on the customer."""

    first_response_minutes: float | None
    resolution_minutes: float | None
    hold_minutes: float
    windows: list[WindowOutcomeInfo]
