"""Due dates and watcher thresholds of one ticket's SLA windows, net of paused time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ticketing.sla.calendar import (
    ZERO,
    BusinessCalendar,
    Interval,
    require_aware,
    require_duration,
)
from ticketing.sla.policy import SlaPolicy
from ticketing.sla.thresholds import SlaWindow, Threshold, ThresholdKind

__all__ = [
    "Pause",
    "SlaClock",
    "SlaDeadlines",
    "SlaPhase",
    "deadlines",
    "due_at",
    "next_threshold",
    "paused_business_time",
    "upcoming_threshold",
]


@dataclass(frozen=True)
class Pause:
    start: datetime
    end: datetime | None = None


def merged_pause_spans(pauses: Iterable[Pause], since: datetime, now: datetime) -> list[Interval]:
    spans: list[Interval] = []
    for index, pause in enumerate(pauses):
        start = require_aware(pause.start, f"pauses[{index}].start")
        end = now if pause.end is None else require_aware(pause.end, f"pauses[{index}].end")
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
    begin = require_aware(since, "since")
    until = require_aware(now, "now")
    total = ZERO
    for start, end in merged_pause_spans(pauses, begin, until):
        total += calendar.business_time_between(start, end)
    return total


def _extend_for_pauses(
    calendar: BusinessCalendar, due: datetime, spans: Iterable[Interval]
) -> datetime:
    # A pause that begins once the due time has passed came too late to stop the clock; one
    # that begins before it stops the clock for its whole business length, which may in turn
    # let a later pause begin before the (moved) due time.
    for pause_start, pause_end in spans:
        if pause_start >= due:
            break
        due = calendar.add(due, calendar.business_time_between(pause_start, pause_end))
    return due


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

    Paused business time (since `start`, up to `now`) does not count, but only for pauses that
    begin before the instant being computed.
    """
    require_duration(target, "target")
    if ratio < 0:
        raise ValueError("ratio must not be negative")
    begin = require_aware(start, "start")
    spans = merged_pause_spans(pauses, begin, require_aware(now, "now"))
    return _extend_for_pauses(calendar, calendar.add(begin, target * ratio), spans)


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
    # The oldest customer message not yet answered: it opens the next-reply window.
    awaiting_reply_since: datetime | None = None
    customer_plan: str | None = None
    channel: str | None = None
    # The last public support message: it opens the keep-in-loop window (None: creation).
    keep_in_loop_since: datetime | None = None


@dataclass(frozen=True)
class SlaDeadlines:
    phase: SlaPhase
    paused: bool
    # Kept after the response so reports can compare it with the actual response time.
    first_response_due: datetime | None
    # The first (lowest-percentage) warning of each window; `thresholds` has all of them.
    first_response_warning_at: datetime | None
    resolution_due: datetime | None
    resolution_warning_at: datetime | None
    # True once any first response exists, on time or not; lateness is a breach, not "unmet".
    first_response_met: bool
    # None while no customer message waits for an answer or the policy has no next-reply target.
    next_reply_due: datetime | None = None
    # Every warning and breach of every open window, sorted by instant.
    thresholds: tuple[Threshold, ...] = ()

    def __post_init__(self) -> None:
        # Deadlines built by hand from the named fields (as before thresholds existed) still
        # get their thresholds, with the warnings under their unnumbered kinds.
        if not self.thresholds:
            object.__setattr__(self, "thresholds", _thresholds_from_fields(self))

    def at(self, kind: ThresholdKind) -> datetime | None:
        """When `kind` falls due, or None if that threshold is not part of these deadlines."""
        return next((t.at for t in self.thresholds if t.kind == kind), None)


def _thresholds_from_fields(d: SlaDeadlines) -> tuple[Threshold, ...]:
    fr, nr, res = SlaWindow.FIRST_RESPONSE, SlaWindow.NEXT_REPLY, SlaWindow.RESOLUTION
    named = (
        (ThresholdKind.warning(fr), d.first_response_warning_at),
        (ThresholdKind.breach(fr), d.first_response_due),
        (ThresholdKind.breach(nr), d.next_reply_due),
        (ThresholdKind.warning(res), d.resolution_warning_at),
        (ThresholdKind.breach(res), d.resolution_due),
    )
    found = [Threshold(kind, at) for kind, at in named if at is not None]
    return tuple(sorted(found, key=_sort_key))


def _phase(clock: SlaClock, paused: bool) -> SlaPhase:
    if clock.done:
        return SlaPhase.DONE
    if paused:
        return SlaPhase.PAUSED
    if clock.first_response_at is None:
        return SlaPhase.FIRST_RESPONSE
    return SlaPhase.RESOLUTION


@dataclass(frozen=True)
class _Window:
    window: SlaWindow
    start: datetime
    target: timedelta
    # Pauses are counted up to here (the response settles the first-response window).
    until: datetime


def _windows(policy: SlaPolicy, clock: SlaClock, now: datetime) -> list[_Window]:
    targets = policy.targets_for(
        clock.priority, clock.ticket_type, clock.customer_plan, clock.channel
    )
    if targets is None:
        # No SLA for this ticket: no windows, so no due dates, warnings or breaches.
        return []
    created = require_aware(clock.created_at, "created_at")
    first_response_until = now
    if clock.first_response_at is not None:
        responded = require_aware(clock.first_response_at, "first_response_at")
        first_response_until = min(now, responded)
    windows = [
        _Window(SlaWindow.FIRST_RESPONSE, created, targets.first_response, first_response_until),
        _Window(
            SlaWindow.RESOLUTION,
            require_aware(clock.resolution_started_at, "resolution_started_at"),
            targets.resolution,
            now,
        ),
    ]
    if clock.awaiting_reply_since is not None and targets.next_reply is not None:
        since = require_aware(clock.awaiting_reply_since, "awaiting_reply_since")
        windows.append(_Window(SlaWindow.NEXT_REPLY, since, targets.next_reply, now))
    if targets.keep_in_loop is not None:
        told = clock.keep_in_loop_since or created
        since = require_aware(told, "keep_in_loop_since")
        windows.append(_Window(SlaWindow.KEEP_IN_LOOP, since, targets.keep_in_loop, now))
    return windows


def _window_thresholds(
    calendar: BusinessCalendar, window: _Window, pauses: Iterable[Pause], percents: Iterable[int]
) -> list[Threshold]:
    spans = merged_pause_spans(pauses, window.start, window.until)

    def at(fraction_target: timedelta) -> datetime:
        return _extend_for_pauses(calendar, calendar.add(window.start, fraction_target), spans)

    found = [
        Threshold(ThresholdKind.warning(window.window, p), at(window.target * p / 100))
        for p in percents
    ]
    found.append(Threshold(ThresholdKind.breach(window.window), at(window.target)))
    return found


def _sort_key(threshold: Threshold) -> tuple[datetime, int, int]:
    order = list(SlaWindow).index(threshold.kind.window)
    # A warning due at the same instant as its breach still fires first.
    percent = 101 if threshold.kind.percent is None else threshold.kind.percent
    return threshold.at, order, percent


def deadlines(policy: SlaPolicy, clock: SlaClock, now: datetime) -> SlaDeadlines:
    """Every window's due time and warnings for `clock` as of `now`."""
    current = require_aware(now, "now")
    calendar = policy.calendar_for(
        clock.ticket_type, clock.priority, clock.customer_plan, clock.channel
    )
    thresholds: list[Threshold] = []
    for window in _windows(policy, clock, current):
        thresholds += _window_thresholds(calendar, window, clock.pauses, policy.warning_percents)
    thresholds.sort(key=_sort_key)
    by_kind = {t.kind: t.at for t in thresholds}
    paused = any(pause.end is None for pause in clock.pauses)

    def first_warning(window: SlaWindow) -> datetime | None:
        if not policy.warning_percents:
            return None
        return by_kind.get(ThresholdKind.warning(window, policy.warning_percents[0]))

    return SlaDeadlines(
        phase=_phase(clock, paused),
        paused=paused,
        first_response_due=by_kind.get(ThresholdKind.breach(SlaWindow.FIRST_RESPONSE)),
        first_response_warning_at=first_warning(SlaWindow.FIRST_RESPONSE),
        resolution_due=by_kind.get(ThresholdKind.breach(SlaWindow.RESOLUTION)),
        resolution_warning_at=first_warning(SlaWindow.RESOLUTION),
        first_response_met=clock.first_response_at is not None,
        next_reply_due=by_kind.get(ThresholdKind.breach(SlaWindow.NEXT_REPLY)),
        thresholds=tuple(thresholds),
    )


def _fired_kinds(
    warned: Iterable[str], breached: Iterable[str], fired: Iterable[ThresholdKind | str]
) -> frozenset[ThresholdKind]:
    # `warned`/`breached` are the window-name sets callers passed before thresholds had kinds.
    kinds = {k if isinstance(k, ThresholdKind) else ThresholdKind.parse(k) for k in fired}
    kinds |= {ThresholdKind.warning(SlaWindow(name)) for name in warned}
    kinds |= {ThresholdKind.breach(SlaWindow(name)) for name in breached}
    return frozenset(kinds)


def upcoming_threshold(
    d: SlaDeadlines, fired: Iterable[ThresholdKind | str] = ()
) -> Threshold | None:
    """Earliest threshold not yet fired, or None when nothing should fire.

    Instants in the past are still returned: a watcher that overslept must fire them now, one
    at a time and in order. A breached window fires no more warnings.
    """
    if d.phase in (SlaPhase.DONE, SlaPhase.PAUSED):
        return None
    done = frozenset(k if isinstance(k, ThresholdKind) else ThresholdKind.parse(k) for k in fired)
    closed = {k.window for k in done if k.is_breach}
    if d.first_response_met:
        closed.add(SlaWindow.FIRST_RESPONSE)
    for threshold in d.thresholds:
        if threshold.kind.window not in closed and threshold.kind not in done:
            return threshold
    return None


def next_threshold(
    d: SlaDeadlines,
    *,
    warned: frozenset[str] = frozenset(),
    breached: frozenset[str] = frozenset(),
    fired: Iterable[ThresholdKind | str] = (),
) -> tuple[str, datetime] | None:
    """Earliest threshold not yet fired, as (str(kind), at), or None when nothing should fire.

    `fired` names fired thresholds by kind; `warned` and `breached` name windows whose default
    (75 %) warning or breach fired, as callers did before several warnings per window existed.
    """
    upcoming = upcoming_threshold(d, _fired_kinds(warned, breached, fired))
    return None if upcoming is None else (str(upcoming.kind), upcoming.at)


# Pauses as a ticket stores them: [[start, end | null], ...] in ISO 8601.
def pauses_of(stored: list[Any]) -> list[Pause]:
    return [
        Pause(datetime.fromisoformat(start), datetime.fromisoformat(end) if end else None)
        for start, end in stored
    ]


def pause_json(pause: Pause) -> list[str | None]:
    return [pause.start.isoformat(), pause.end.isoformat() if pause.end else None]
