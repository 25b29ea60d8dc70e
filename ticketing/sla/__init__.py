"""Pure SLA calendar math: business hours, pauses, due dates and watcher thresholds."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DEFAULT_POLICY",
    "PRIORITIES",
    "BusinessCalendar",
    "Pause",
    "SlaClock",
    "SlaDeadlines",
    "SlaPhase",
    "SlaPolicy",
    "SlaTargets",
    "deadlines",
    "demo_policy",
    "due_at",
    "next_threshold",
    "paused_business_time",
    "validate_timezone",
]

PRIORITIES = ("low", "normal", "high", "urgent")

MINUTES_PER_DAY = 24 * 60
# A calendar whose hours are all eaten by holidays would otherwise make add() spin forever.
_MAX_EMPTY_DAYS = 3 * 366
_ZERO = timedelta(0)
_ONE_SECOND = timedelta(seconds=1)

DayHours = tuple[tuple[int, int], ...]
WeeklyHours = Mapping[int, DayHours]
Interval = tuple[datetime, datetime]


def validate_timezone(name: str) -> str:
    """Return `name` if zoneinfo knows it, else raise ValueError."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"unknown time zone {name!r}")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


def _require_aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def _require_duration(value: timedelta, name: str) -> timedelta:
    if not isinstance(value, timedelta):
        raise ValueError(f"{name} must be a timedelta, got {type(value).__name__}")
    if value < _ZERO:
        raise ValueError(f"{name} must not be negative")
    return value


def _normalize_day(weekday: object, intervals: Iterable[object]) -> DayHours:
    pairs: list[tuple[int, int]] = []
    for item in intervals:
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise ValueError(f"weekly_hours[{weekday!r}]: interval must be a (start, end) pair")
        start, end = item
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
            raise ValueError(f"weekly_hours[{weekday!r}]: minutes must be integers")
        if not 0 <= start < end <= MINUTES_PER_DAY:
            raise ValueError(
                f"weekly_hours[{weekday!r}]: need 0 <= start < end <= {MINUTES_PER_DAY}, "
                f"got ({start}, {end})"
            )
        pairs.append((start, end))
    # Merging keeps equality and to_dict canonical no matter how the hours were spelled.
    merged: list[tuple[int, int]] = []
    for start, end in sorted(pairs):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


def _normalize_weekly_hours(hours: WeeklyHours | None) -> dict[int, DayHours] | None:
    if hours is None:
        return None
    if not isinstance(hours, Mapping):
        raise ValueError("weekly_hours must be a mapping of weekday to intervals")
    normalized: dict[int, DayHours] = {}
    for weekday, intervals in hours.items():
        if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
            raise ValueError(f"weekly_hours: weekday must be 0..6, got {weekday!r}")
        day = _normalize_day(weekday, intervals)
        if day:
            normalized[weekday] = day
    return dict(sorted(normalized.items()))


def _earliest_instant_at_or_after(tz: ZoneInfo, local: datetime) -> datetime:
    """First UTC instant whose wall time in `tz` is >= `local` (naive)."""
    # fold=0 already gives this for existing and ambiguous times; only gap times need a search,
    # because fold=0 overshoots them past later wall times and would break monotonicity.
    forward = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if forward.astimezone(tz).replace(tzinfo=None) == local:
        return forward
    lo = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
    hi = forward
    while hi - lo > _ONE_SECOND:
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= local:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0) if hi.microsecond else hi


@dataclass(frozen=True)
class BusinessCalendar:
    """Business hours in a local time zone; arithmetic happens on real (UTC) instants."""

    timezone: str = "UTC"
    # Minutes since local midnight, [start, end) with 0 <= start < end <= 1440; None is 24x7.
    weekly_hours: WeeklyHours | None = None
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        validate_timezone(self.timezone)
        object.__setattr__(self, "weekly_hours", _normalize_weekly_hours(self.weekly_hours))
        holidays = frozenset(self.holidays)
        for day in holidays:
            if isinstance(day, datetime) or not isinstance(day, date):
                raise ValueError(f"holidays must be dates, got {day!r}")
        object.__setattr__(self, "holidays", holidays)

    def __hash__(self) -> int:
        hours = None if self.weekly_hours is None else tuple(self.weekly_hours.items())
        return hash((self.timezone, hours, self.holidays))

    @property
    def is_24x7(self) -> bool:
        return self.weekly_hours is None and not self.holidays

    @property
    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _local_hours(self, day: date) -> DayHours:
        if day in self.holidays:
            return ()
        if self.weekly_hours is None:
            return ((0, MINUTES_PER_DAY),)
        return self.weekly_hours.get(day.weekday(), ())

    def _day_intervals(self, day: date) -> list[Interval]:
        tz = self._zone
        midnight = datetime.combine(day, time())
        intervals: list[Interval] = []
        for start, end in self._local_hours(day):
            utc_start = _earliest_instant_at_or_after(tz, midnight + timedelta(minutes=start))
            utc_end = _earliest_instant_at_or_after(tz, midnight + timedelta(minutes=end))
            # An interval lying wholly inside a DST gap never happens in real time.
            if utc_end > utc_start:
                intervals.append((utc_start, utc_end))
        return intervals

    def _first_day(self, instant: datetime) -> date:
        # One day early so an interval that began on the previous local date is never missed.
        return instant.astimezone(self._zone).date() - timedelta(days=1)

    def _intervals_from(self, instant: datetime) -> Iterator[Interval]:
        if self.weekly_hours is not None and not self.weekly_hours:
            raise ValueError("calendar has no business hours")
        day = self._first_day(instant)
        empty_days = 0
        while True:
            intervals = self._day_intervals(day)
            empty_days = 0 if intervals else empty_days + 1
            if empty_days > _MAX_EMPTY_DAYS:
                raise ValueError("calendar has no business hours")
            yield from intervals
            day += timedelta(days=1)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """Return the instant `duration` of business time after `start`."""
        begin = _require_aware(start, "start")
        remaining = _require_duration(duration, "duration")
        if remaining == _ZERO:
            return begin
        if self.is_24x7:
            return begin + remaining
        for interval_start, interval_end in self._intervals_from(begin):
            if interval_end <= begin:
                continue
            clock_start = max(interval_start, begin)
            available = interval_end - clock_start
            # <= rather than <: landing exactly on an interval end must return that end.
            if remaining <= available:
                return clock_start + remaining
            remaining -= available
        raise AssertionError("unreachable: interval iterator is infinite")

    def business_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Business time elapsed in [start, end); zero if end <= start."""
        begin = _require_aware(start, "start")
        finish = _require_aware(end, "end")
        if finish <= begin:
            return _ZERO
        if self.is_24x7:
            return finish - begin
        total = _ZERO
        day = self._first_day(begin)
        last_day = finish.astimezone(self._zone).date() + timedelta(days=1)
        while day <= last_day:
            for interval_start, interval_end in self._day_intervals(day):
                overlap = min(interval_end, finish) - max(interval_start, begin)
                if overlap > _ZERO:
                    total += overlap
            day += timedelta(days=1)
        return total

    @classmethod
    def always(cls) -> BusinessCalendar:
        return cls()

    @classmethod
    def office_hours(
        cls,
        timezone: str,
        *,
        start_minute: int = 9 * 60,
        end_minute: int = 17 * 60,
        weekdays: Iterable[int] = range(5),
        holidays: Iterable[date] = (),
    ) -> BusinessCalendar:
        hours = {weekday: ((start_minute, end_minute),) for weekday in weekdays}
        return cls(timezone=timezone, weekly_hours=hours, holidays=frozenset(holidays))

    def to_dict(self) -> dict[str, object]:
        hours: dict[str, object] | None = None
        if self.weekly_hours is not None:
            hours = {
                str(weekday): [[start, end] for start, end in intervals]
                for weekday, intervals in self.weekly_hours.items()
            }
        return {
            "timezone": self.timezone,
            "weekly_hours": hours,
            "holidays": sorted(day.isoformat() for day in self.holidays),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object] | None) -> BusinessCalendar:
        return _calendar_from_dict(data, "calendar")


def _calendar_from_dict(data: Mapping[str, object] | None, path: str) -> BusinessCalendar:
    if data is None:
        return BusinessCalendar.always()
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected an object")
    _reject_unknown_keys(data, {"timezone", "weekly_hours", "holidays"}, path)
    tz = data.get("timezone", "UTC")
    if not isinstance(tz, str):
        raise ValueError(f"{path}.timezone: expected a string")
    try:
        validate_timezone(tz)
    except ValueError as exc:
        raise ValueError(f"{path}.timezone: {exc}") from exc
    hours = _weekly_hours_from_json(data.get("weekly_hours"), f"{path}.weekly_hours")
    holidays = _holidays_from_json(data.get("holidays", []), f"{path}.holidays")
    try:
        return BusinessCalendar(timezone=tz, weekly_hours=hours, holidays=holidays)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def _weekly_hours_from_json(raw: object, path: str) -> dict[int, DayHours] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: expected an object or null")
    hours: dict[int, DayHours] = {}
    for key, intervals in raw.items():
        try:
            weekday = int(key)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}.{key}: weekday must be 0..6") from exc
        if not isinstance(intervals, list | tuple):
            raise ValueError(f"{path}.{key}: expected a list of [start, end] pairs")
        try:
            hours[weekday] = _normalize_day(weekday, intervals)
        except ValueError as exc:
            raise ValueError(f"{path}.{key}: {exc}") from exc
    return hours


def _holidays_from_json(raw: object, path: str) -> frozenset[date]:
    if not isinstance(raw, list | tuple):
        raise ValueError(f"{path}: expected a list of ISO dates")
    days: set[date] = set()
    for item in raw:
        if not isinstance(item, str):
            raise ValueError(f"{path}: expected ISO date strings, got {item!r}")
        try:
            days.add(date.fromisoformat(item))
        except ValueError as exc:
            raise ValueError(f"{path}: invalid date {item!r}") from exc
    return frozenset(days)


def _reject_unknown_keys(data: Mapping[str, object], allowed: set[str], path: str) -> None:
    unknown = sorted(str(key) for key in data if key not in allowed)
    if unknown:
        raise ValueError(f"{path}: unknown key {unknown[0]!r}")


@dataclass(frozen=True)
class SlaTargets:
    first_response: timedelta
    resolution: timedelta

    def __post_init__(self) -> None:
        for name in ("first_response", "resolution"):
            value = getattr(self, name)
            if not isinstance(value, timedelta) or value <= _ZERO:
                raise ValueError(f"{name} must be a positive timedelta")

    def to_dict(self) -> dict[str, object]:
        return {
            "first_response": self.first_response // _ONE_SECOND,
            "resolution": self.resolution // _ONE_SECOND,
        }


def _seconds_from_json(raw: object, path: str) -> timedelta:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw <= 0:
        raise ValueError(f"{path}: expected a positive integer number of seconds")
    return timedelta(seconds=raw)


def _targets_from_json(raw: object, fallback: SlaTargets | None, path: str) -> SlaTargets:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: expected an object")
    _reject_unknown_keys(raw, {"first_response", "resolution"}, path)
    values: dict[str, timedelta] = {}
    for name in ("first_response", "resolution"):
        if name in raw:
            values[name] = _seconds_from_json(raw[name], f"{path}.{name}")
        elif fallback is not None:
            values[name] = getattr(fallback, name)
        else:
            raise ValueError(f"{path}.{name}: missing")
    return SlaTargets(**values)


def _hash_mapping(mapping: Mapping[str, object]) -> tuple[tuple[str, object], ...]:
    return tuple(sorted(mapping.items()))


@dataclass(frozen=True)
class SlaPolicy:
    targets: Mapping[str, SlaTargets]
    type_overrides: Mapping[str, SlaTargets] = field(default_factory=dict)
    calendar: BusinessCalendar = BusinessCalendar()
    # Some ticket types (outage reports) run 24x7 whatever the tenant's office hours are.
    type_calendars: Mapping[str, BusinessCalendar] = field(default_factory=dict)
    warning_ratio: float = 0.75

    def __post_init__(self) -> None:
        missing = [p for p in PRIORITIES if p not in self.targets]
        if missing:
            raise ValueError(f"targets: missing priority {missing[0]!r}")
        unknown = [p for p in self.targets if p not in PRIORITIES]
        if unknown:
            raise ValueError(f"targets: unknown priority {unknown[0]!r}")
        if not 0 < self.warning_ratio <= 1:
            raise ValueError("warning_ratio must be in (0, 1]")
        object.__setattr__(self, "targets", dict(self.targets))
        object.__setattr__(self, "type_overrides", dict(self.type_overrides))
        object.__setattr__(self, "type_calendars", dict(self.type_calendars))

    def __hash__(self) -> int:
        return hash(
            (
                _hash_mapping(self.targets),
                _hash_mapping(self.type_overrides),
                self.calendar,
                _hash_mapping(self.type_calendars),
                self.warning_ratio,
            )
        )

    def targets_for(self, priority: str, ticket_type: str) -> SlaTargets:
        override = self.type_overrides.get(ticket_type)
        if override is not None:
            return override
        try:
            return self.targets[priority]
        except KeyError:
            raise ValueError(f"unknown priority {priority!r}") from None

    def calendar_for(self, ticket_type: str) -> BusinessCalendar:
        return self.type_calendars.get(ticket_type, self.calendar)

    def to_dict(self) -> dict[str, object]:
        return {
            "targets": {p: self.targets[p].to_dict() for p in PRIORITIES},
            "type_overrides": {k: v.to_dict() for k, v in sorted(self.type_overrides.items())},
            "calendar": self.calendar.to_dict(),
            "type_calendars": {k: v.to_dict() for k, v in sorted(self.type_calendars.items())},
            "warning_ratio": self.warning_ratio,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object] | None) -> SlaPolicy:
        if data is None:
            return DEFAULT_POLICY
        if not isinstance(data, Mapping):
            raise ValueError("policy: expected an object")
        _reject_unknown_keys(
            data,
            {"targets", "type_overrides", "calendar", "type_calendars", "warning_ratio"},
            "policy",
        )
        default = DEFAULT_POLICY
        targets = dict(default.targets)
        raw_targets = data.get("targets", {})
        if not isinstance(raw_targets, Mapping):
            raise ValueError("targets: expected an object")
        for priority, raw in raw_targets.items():
            if priority not in PRIORITIES:
                raise ValueError(f"targets: unknown priority {priority!r}")
            targets[priority] = _targets_from_json(
                raw, default.targets[priority], f"targets.{priority}"
            )

        overrides = dict(default.type_overrides)
        if "type_overrides" in data:
            raw_overrides = data["type_overrides"]
            if not isinstance(raw_overrides, Mapping):
                raise ValueError("type_overrides: expected an object")
            overrides = {
                str(slug): _targets_from_json(raw, None, f"type_overrides.{slug}")
                for slug, raw in raw_overrides.items()
            }

        calendar = default.calendar
        if "calendar" in data:
            calendar = _calendar_from_json(data["calendar"], "calendar")

        type_calendars = dict(default.type_calendars)
        if "type_calendars" in data:
            raw_calendars = data["type_calendars"]
            if not isinstance(raw_calendars, Mapping):
                raise ValueError("type_calendars: expected an object")
            type_calendars = {
                str(slug): _calendar_from_json(raw, f"type_calendars.{slug}")
                for slug, raw in raw_calendars.items()
            }

        ratio = data.get("warning_ratio", default.warning_ratio)
        if not isinstance(ratio, int | float) or isinstance(ratio, bool) or not 0 < ratio <= 1:
            raise ValueError("warning_ratio: expected a number in (0, 1]")

        return cls(
            targets=targets,
            type_overrides=overrides,
            calendar=calendar,
            type_calendars=type_calendars,
            warning_ratio=float(ratio),
        )


def _calendar_from_json(raw: object, path: str) -> BusinessCalendar:
    if raw is not None and not isinstance(raw, Mapping):
        raise ValueError(f"{path}: expected an object or null")
    return _calendar_from_dict(raw, path)


def _hours(n: int) -> timedelta:
    return timedelta(hours=n)


DEFAULT_POLICY = SlaPolicy(
    targets={
        "urgent": SlaTargets(_hours(1), _hours(4)),
        "high": SlaTargets(_hours(4), _hours(24)),
        "normal": SlaTargets(_hours(8), _hours(72)),
        "low": SlaTargets(_hours(24), _hours(120)),
    },
    type_overrides={"outage_report": SlaTargets(_hours(1), _hours(4))},
    type_calendars={"outage_report": BusinessCalendar.always()},
)


def demo_policy(scale_seconds: int = 1) -> SlaPolicy:
    """A policy in seconds for demos and timer tests, 24x7.

    urgent 10s/30s, high 20s/60s, normal 30s/90s, low 60s/180s (first response / resolution),
    each multiplied by `scale_seconds`.
    """
    if not isinstance(scale_seconds, int) or isinstance(scale_seconds, bool) or scale_seconds < 1:
        raise ValueError("scale_seconds must be a positive integer")

    def seconds(first_response: int, resolution: int) -> SlaTargets:
        return SlaTargets(
            timedelta(seconds=first_response * scale_seconds),
            timedelta(seconds=resolution * scale_seconds),
        )

    urgent = seconds(10, 30)
    return SlaPolicy(
        targets={
            "urgent": urgent,
            "high": seconds(20, 60),
            "normal": seconds(30, 90),
            "low": seconds(60, 180),
        },
        # Mirrors DEFAULT_POLICY so demos exercise the same type-wins-over-priority path.
        type_overrides={"outage_report": urgent},
        type_calendars={"outage_report": BusinessCalendar.always()},
    )


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
