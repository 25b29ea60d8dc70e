"""Business-time SLA statistics of one ticket: response and resolution times, met or missed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ticketing.sla.calendar import ZERO, BusinessCalendar, require_aware
from ticketing.sla.deadlines import SlaClock, deadlines, merged_pause_spans
from ticketing.sla.policy import SlaPolicy
from ticketing.sla.thresholds import SlaWindow

__all__ = ["SlaStatistics", "WindowOutcome", "auto_close_at", "sla_statistics"]


def _minutes(value: timedelta) -> float:
    return value / timedelta(minutes=1)


@dataclass(frozen=True)
class WindowOutcome:
    window: SlaWindow
    due: datetime
    # When the window was satisfied (response, resolution), or None while it is still open.
    done_at: datetime | None
    # None while open and not yet overdue: nothing is decided.
    met: bool | None
    # Business time to spare (positive) or by which it was missed (negative), up to done_at
    # or, while open, up to the moment the statistics were taken.
    margin: timedelta

    @property
    def margin_minutes(self) -> float:
        return _minutes(self.margin)


@dataclass(frozen=True)
class SlaStatistics:
    first_response_time: timedelta | None
    resolution_time: timedelta | None
    hold_time: timedelta
    outcomes: tuple[WindowOutcome, ...]

    @property
    def first_response_minutes(self) -> float | None:
        return None if self.first_response_time is None else _minutes(self.first_response_time)

    @property
    def resolution_minutes(self) -> float | None:
        return None if self.resolution_time is None else _minutes(self.resolution_time)

    @property
    def hold_minutes(self) -> float:
        return _minutes(self.hold_time)

    def outcome(self, window: SlaWindow) -> WindowOutcome | None:
        return next((o for o in self.outcomes if o.window == window), None)


def _active_time(
    calendar: BusinessCalendar, clock: SlaClock, start: datetime, end: datetime
) -> timedelta:
    total = calendar.business_time_between(start, end)
    for pause_start, pause_end in merged_pause_spans(clock.pauses, start, end):
        total -= calendar.business_time_between(pause_start, pause_end)
    return total


def _outcome(
    calendar: BusinessCalendar,
    window: SlaWindow,
    due: datetime,
    done_at: datetime | None,
    now: datetime,
) -> WindowOutcome:
    until = done_at if done_at is not None else now
    if until <= due:
        margin = calendar.business_time_between(until, due)
        met: bool | None = True if done_at is not None else None
    else:
        margin = -calendar.business_time_between(due, until)
        met = False
    return WindowOutcome(window, due, done_at, met, margin)


def sla_statistics(
    policy: SlaPolicy, clock: SlaClock, *, resolved_at: datetime | None, now: datetime
) -> SlaStatistics:
    """Business-time figures for a ticket: times net of holds, and each window met or missed.

    Resolution time runs from the ticket's creation; its outcome judges the current resolution
    window (which an escalation or reopen restarts).
    """
    current = require_aware(now, "now")
    resolved = None if resolved_at is None else require_aware(resolved_at, "resolved_at")
    end = resolved if resolved is not None and resolved <= current else current
    calendar = policy.calendar_for(
        clock.ticket_type, clock.priority, clock.customer_plan, clock.channel
    )
    created = require_aware(clock.created_at, "created_at")
    responded = (
        None
        if clock.first_response_at is None
        else require_aware(clock.first_response_at, "first_response_at")
    )
    due = deadlines(policy, clock, end)
    outcomes = []
    if due.first_response_due is not None:
        outcomes.append(
            _outcome(calendar, SlaWindow.FIRST_RESPONSE, due.first_response_due, responded, end)
        )
    if due.next_reply_due is not None:
        outcomes.append(_outcome(calendar, SlaWindow.NEXT_REPLY, due.next_reply_due, None, end))
    if due.resolution_due is not None:
        outcomes.append(_outcome(calendar, SlaWindow.RESOLUTION, due.resolution_due, resolved, end))
    hold = ZERO
    for pause_start, pause_end in merged_pause_spans(clock.pauses, created, end):
        hold += calendar.business_time_between(pause_start, pause_end)
    return SlaStatistics(
        first_response_time=(
            None if responded is None else _active_time(calendar, clock, created, responded)
        ),
        resolution_time=None if resolved is None else _active_time(calendar, clock, created, end),
        hold_time=hold,
        outcomes=tuple(outcomes),
    )


def auto_close_at(policy: SlaPolicy, resolved_at: datetime) -> datetime | None:
    """When a ticket resolved at `resolved_at` closes itself if nobody writes, or None never."""
    if policy.auto_close_after is None:
        return None
    return require_aware(resolved_at, "resolved_at") + policy.auto_close_after
