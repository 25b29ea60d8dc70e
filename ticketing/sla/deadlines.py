"""Due dates and watcher thresholds of one ticket's SLA windows, net of paused time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from ticketing.sla.calendar import (
    _ZERO,
    BusinessCalendar,
    Interval,
    _require_aware,
    _require_duration,
)
from ticketing.sla.policy import SlaPolicy

__all__ = [
    "Pause",
    "SlaClock",
    "SlaDeadlines",
    "SlaPhase",
    "deadlines",
    "due_at",
    "next_threshold",
    "paused_business_time",
]


@dataclass(frozen=True)
class Pause:
    start: datetime
    end: datetime | None = None


def _merged_pause_spans(pauses: Iterable[Pause], since: datetime, now: datetime) -> list[Interval]:
    spans: list[Interval] = []
    for index, pause in enumerate(pauses):
        start = _require_aware(pause.start, f"pauses[{index}].start")
        end = now if pause.end is None else _require_aware(pause.end, f"pauses[{index}].end")
        start, end = max(start, since), min(end, now)
        if end > start:
            spans.append((start, end))
    merged: list[Interval] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def paused_business_time(
    calendar: BusinessCalendar, pauses: Iterable[Pause], *, since: datetime, now: datetime
) -> timedelta:
    """Business time covered by pauses, clipped to [since, now].

    An open pause counts up to now. Overlapping pauses count once.
    """
    begin = _require_aware(since, "since")
    until = _require_aware(now, "now")
    total = _ZERO
    for start, end in _merged_pause_spans(pauses, begin, until):
        total += calendar.business_time_between(start, end)
    return total


def due_at(
    calendar: BusinessCalendar,
    *,
    start: datetime,
    target: timedelta,
    pauses: Iterable[Pause],
    now: datetime,
    ratio: float = 1.0,
) -> datetime:
    """When `ratio` of `target` business time will have elapsed since `start`.

    Paused business time (since `start`, up to `now`) does not count.
    """
    _require_duration(target, "target")
    if ratio < 0:
        raise ValueError("ratio must not be negative")
    paused = paused_business_time(calendar, pauses, since=start, now=now)
    return calendar.add(start, target * ratio + paused)


class SlaPhase(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"
    PAUSED = "paused"
    DONE = "done"


@dataclass(frozen=True)
class SlaClock:
    """Inputs describing one ticket's SLA state (built by the service from its row)."""

    priority: str
    ticket_type: str
    created_at: datetime
    # Each escalation level or reopen gets a fresh resolution window starting here.
    resolution_started_at: datetime
    first_response_at: datetime | None
    pauses: tuple[Pause, ...]
    done: bool


@dataclass(frozen=True)
class SlaDeadlines:
    phase: SlaPhase
    paused: bool
    # Kept after the response so reports can compare it with the actual response time.
    first_response_due: datetime | None
    first_response_warning_at: datetime | None
    resolution_due: datetime | None
    resolution_warning_at: datetime | None
    # True once any first response exists, on time or not; lateness is a breach, not "unmet".
    first_response_met: bool


def _phase(clock: SlaClock, paused: bool) -> SlaPhase:
    if clock.done:
        return SlaPhase.DONE
    if paused:
        return SlaPhase.PAUSED
    if clock.first_response_at is None:
        return SlaPhase.FIRST_RESPONSE
    return SlaPhase.RESOLUTION


def deadlines(policy: SlaPolicy, clock: SlaClock, now: datetime) -> SlaDeadlines:
    targets = policy.targets_for(clock.priority, clock.ticket_type)
    calendar = policy.calendar_for(clock.ticket_type)
    current = _require_aware(now, "now")
    created = _require_aware(clock.created_at, "created_at")
    resolution_start = _require_aware(clock.resolution_started_at, "resolution_started_at")
    responded = clock.first_response_at
    # Pauses after the response must not keep moving a first-response deadline that is settled.
    first_response_now = current
    if responded is not None:
        first_response_now = min(current, _require_aware(responded, "first_response_at"))

    def window(start: datetime, target: timedelta, until: datetime, ratio: float) -> datetime:
        return due_at(
            calendar, start=start, target=target, pauses=clock.pauses, now=until, ratio=ratio
        )

    paused = any(pause.end is None for pause in clock.pauses)
    warn = policy.warning_ratio
    return SlaDeadlines(
        phase=_phase(clock, paused),
        paused=paused,
        first_response_due=window(created, targets.first_response, first_response_now, 1.0),
        first_response_warning_at=window(created, targets.first_response, first_response_now, warn),
        resolution_due=window(resolution_start, targets.resolution, current, 1.0),
        resolution_warning_at=window(resolution_start, targets.resolution, current, warn),
        first_response_met=responded is not None,
    )


def next_threshold(
    d: SlaDeadlines, *, warned: frozenset[str], breached: frozenset[str]
) -> tuple[str, datetime] | None:
    """Earliest threshold not yet fired, as (kind, at), or None when nothing should fire.

    Instants in the past are still returned: a watcher that overslept must fire them now.
    """
    if d.phase in (SlaPhase.DONE, SlaPhase.PAUSED):
        return None
    candidates: list[tuple[datetime, int, str]] = []
    windows = (
        ("first_response", d.first_response_warning_at, d.first_response_due),
        ("resolution", d.resolution_warning_at, d.resolution_due),
    )
    for name, warning_at, due in windows:
        if name == "first_response" and d.first_response_met:
            continue
        if name in breached:
            continue
        if name not in warned and warning_at is not None:
            candidates.append((warning_at, len(candidates), f"{name}_warning"))
        if due is not None:
            candidates.append((due, len(candidates), f"{name}_breach"))
    if not candidates:
        return None
    at, _, kind = min(candidates)
    return kind, at
