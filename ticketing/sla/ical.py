"""Holidays imported from an iCalendar file: all-day events, yearly ones when they recur."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import icalendar

from ticketing.sla.calendar import BusinessCalendar, YearlyHoliday

__all__ = ["IcalHolidays", "holidays_from_ical"]


@dataclass(frozen=True)
class IcalHolidays:
    dated: frozenset[date]
    yearly: frozenset[YearlyHoliday]

    def apply_to(self, calendar: BusinessCalendar) -> BusinessCalendar:
        """A copy of `calendar` with these holidays added to its own."""
        return BusinessCalendar(
            timezone=calendar.timezone,
            weekly_hours=calendar.weekly_hours,
            holidays=calendar.holidays | self.dated,
            yearly_holidays=calendar.yearly_holidays | self.yearly,
        )


def _is_yearly(event: icalendar.cal.Component) -> bool:
    rule = event.get("RRULE")
    if rule is None:
        return False
    freq = rule.get("FREQ", [])
    return [str(f).upper() for f in freq] == ["YEARLY"]


def holidays_from_ical(source: bytes | str) -> IcalHolidays:
    """Holidays in an .ics text: all-day VEVENTs, yearly when their RRULE is FREQ=YEARLY.

    Timed events (meetings, half days) are skipped: a holiday here closes the whole local day.
    A multi-day all-day event closes each day up to its exclusive DTEND.
    """
    try:
        parsed = icalendar.Calendar.from_ical(source)
    except ValueError as exc:
        raise ValueError(f"not an iCalendar file: {exc}") from exc
    dated: set[date] = set()
    yearly: set[YearlyHoliday] = set()
    for event in parsed.walk("VEVENT"):
        start = event.decoded("DTSTART", None)
        # datetime is a date subclass: only a bare date is an all-day event.
        if not isinstance(start, date) or isinstance(start, datetime):
            continue
        days = _event_days(event, start)
        if _is_yearly(event):
            yearly.update(YearlyHoliday(day.month, day.day) for day in days)
        else:
            dated.update(days)
    return IcalHolidays(frozenset(dated), frozenset(yearly))


def _event_days(event: icalendar.cal.Component, start: date) -> list[date]:
    end = event.decoded("DTEND", None)
    if not isinstance(end, date) or isinstance(end, datetime) or end <= start:
        return [start]
    return [date.fromordinal(n) for n in range(start.toordinal(), end.toordinal())]
