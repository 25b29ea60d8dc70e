"""Business calendars: weekly hours, holidays and time zones, with arithmetic on real instants."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["PRIORITIES", "BusinessCalendar", "YearlyHoliday", "validate_timezone"]

PRIORITIES = ("low", "normal", "high", "urgent")

MINUTES_PER_DAY = 24 * 60
# A calendar whose hours are all eaten by holidays would otherwise make add() spin forever.
_MAX_EMPTY_DAYS = 3 * 366
ZERO = timedelta(0)
ONE_SECOND = timedelta(seconds=1)

DayHours = tuple[tuple[int, int], ...]
WeeklyHours = Mapping[int, DayHours]
Interval = tuple[datetime, datetime]


def validate_timezone(name: str) -> str:
    """Return `name` if zoneinfo knows it, else raise ValueError."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"unknown time zone {name!r}")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        # zoneinfo looks the name up as a file: a name too long for one is an OSError
        # (ENAMETOOLONG), which must read as bad input, not as an unreachable server.
        raise ValueError(f"unknown time zone {name[:80]!r}") from exc
    return name


def require_aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def require_duration(value: timedelta, name: str) -> timedelta:
    if not isinstance(value, timedelta):
        raise ValueError(f"{name} must be a timedelta, got {type(value).__name__}")
    if value < ZERO:
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
    while hi - lo > ONE_SECOND:
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= local:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0) if hi.microsecond else hi


@dataclass(frozen=True, order=True)
class YearlyHoliday:
    """A holiday on the same month and day every year ("12-25"); 02-29 only in leap years."""

    month: int
    day: int

    def __post_init__(self) -> None:
        try:
            # 2000 is a leap year, so 02-29 is accepted as a yearly date.
            date(2000, self.month, self.day)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"invalid yearly holiday {self.month!r}-{self.day!r}") from exc

    @classmethod
    def parse(cls, text: str) -> YearlyHoliday:
        """Parse "MM-DD"."""
        parts = text.split("-") if isinstance(text, str) else []
        if len(parts) != 2 or not all(len(p) == 2 and p.isdigit() for p in parts):
            raise ValueError(f"expected MM-DD, got {text!r}")
        return cls(int(parts[0]), int(parts[1]))

    def __str__(self) -> str:
        return f"{self.month:02d}-{self.day:02d}"

    def falls_on(self, day: date) -> bool:
        return (day.month, day.day) == (self.month, self.day)


@dataclass(frozen=True)
class BusinessCalendar:
    """Business hours in a local time zone; arithmetic happens on real (UTC) instants."""

    timezone: str = "UTC"
    # Minutes since local midnight, [start, end) with 0 <= start < end <= 1440; None is 24x7.
    weekly_hours: WeeklyHours | None = None
    holidays: frozenset[date] = frozenset()
    yearly_holidays: frozenset[YearlyHoliday] = frozenset()

    def __post_init__(self) -> None:
        validate_timezone(self.timezone)
        object.__setattr__(self, "weekly_hours", _normalize_weekly_hours(self.weekly_hours))
        holidays = frozenset(self.holidays)
        for day in holidays:
            if isinstance(day, datetime) or not isinstance(day, date):
                raise ValueError(f"holidays must be dates, got {day!r}")
        object.__setattr__(self, "holidays", holidays)
        yearly = frozenset(self.yearly_holidays)
        for item in yearly:
            if not isinstance(item, YearlyHoliday):
                raise ValueError(f"yearly_holidays must be YearlyHoliday, got {item!r}")
        object.__setattr__(self, "yearly_holidays", yearly)

    def __hash__(self) -> int:
        hours = None if self.weekly_hours is None else tuple(self.weekly_hours.items())
        return hash((self.timezone, hours, self.holidays, self.yearly_holidays))

    @property
    def is_24x7(self) -> bool:
        return self.weekly_hours is None and not self.holidays and not self.yearly_holidays

    def is_holiday(self, day: date) -> bool:
        """Whether the local date `day` is a dated or a yearly holiday."""
        return day in self.holidays or (day.month, day.day) in self._yearly_keys

    @cached_property
    def _yearly_keys(self) -> frozenset[tuple[int, int]]:
        return frozenset((h.month, h.day) for h in self.yearly_holidays)

    @property
    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _local_hours(self, day: date) -> DayHours:
        if self.is_holiday(day):
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
        begin = require_aware(start, "start")
        remaining = require_duration(duration, "duration")
        if remaining == ZERO:
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
        begin = require_aware(start, "start")
        finish = require_aware(end, "end")
        if finish <= begin:
            return ZERO
        if self.is_24x7:
            return finish - begin
        total = ZERO
        day = self._first_day(begin)
        last_day = finish.astimezone(self._zone).date() + timedelta(days=1)
        while day <= last_day:
            for interval_start, interval_end in self._day_intervals(day):
                overlap = min(interval_end, finish) - max(interval_start, begin)
                if overlap > ZERO:
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
        yearly_holidays: Iterable[YearlyHoliday] = (),
    ) -> BusinessCalendar:
        hours = {weekday: ((start_minute, end_minute),) for weekday in weekdays}
        return cls(
            timezone=timezone,
            weekly_hours=hours,
            holidays=frozenset(holidays),
            yearly_holidays=frozenset(yearly_holidays),
        )

    def to_dict(self) -> dict[str, object]:
        hours: dict[str, object] | None = None
        if self.weekly_hours is not None:
            hours = {
                str(weekday): [[start, end] for start, end in intervals]
                for weekday, intervals in self.weekly_hours.items()
            }
        data: dict[str, object] = {
            "timezone": self.timezone,
            "weekly_hours": hours,
            "holidays": sorted(day.isoformat() for day in self.holidays),
        }
        # Only when present, so calendars stored before yearly holidays existed stay byte-equal.
        if self.yearly_holidays:
            data["yearly_holidays"] = [str(h) for h in sorted(self.yearly_holidays)]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, object] | None) -> BusinessCalendar:
        return calendar_from_dict(data, "calendar")


def calendar_from_dict(data: Mapping[str, object] | None, path: str) -> BusinessCalendar:
    if data is None:
        return BusinessCalendar.always()
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected an object")
    reject_unknown_keys(data, {"timezone", "weekly_hours", "holidays", "yearly_holidays"}, path)
    tz = data.get("timezone", "UTC")
    if not isinstance(tz, str):
        raise ValueError(f"{path}.timezone: expected a string")
    try:
        validate_timezone(tz)
    except ValueError as exc:
        raise ValueError(f"{path}.timezone: {exc}") from exc
    hours = _weekly_hours_from_json(data.get("weekly_hours"), f"{path}.weekly_hours")
    holidays = _holidays_from_json(data.get("holidays", []), f"{path}.holidays")
    yearly = _yearly_from_json(data.get("yearly_holidays", []), f"{path}.yearly_holidays")
    try:
        return BusinessCalendar(
            timezone=tz, weekly_hours=hours, holidays=holidays, yearly_holidays=yearly
        )
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


def _yearly_from_json(raw: object, path: str) -> frozenset[YearlyHoliday]:
    if not isinstance(raw, list | tuple):
        raise ValueError(f"{path}: expected a list of MM-DD strings")
    try:
        return frozenset(YearlyHoliday.parse(item) for item in raw)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def reject_unknown_keys(data: Mapping[str, object], allowed: set[str], path: str) -> None:
    unknown = sorted(str(key) for key in data if key not in allowed)
    if unknown:
        raise ValueError(f"{path}: unknown key {unknown[0]!r}")
