"""The SLA policy document's calendar: business hours per weekday, holidays, a time zone."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from ticketing.sla.calendar import BusinessCalendar, DayHours, YearlyHoliday, validate_timezone

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ClockTime = Annotated[str, StringConstraints(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]
MonthDay = Annotated[str, StringConstraints(pattern=r"^[0-9]{2}-[0-9]{2}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class TimeRange(_Strict):
    """Open from `start` to `end`, local wall time ("24:00" is the end of the day)."""

    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _start_before_end(self) -> TimeRange:
        if _minutes(self.start) >= _minutes(self.end):
            raise ValueError("start must be before end")
        return self


def _merged(ranges: list[TimeRange]) -> list[TimeRange]:
    merged: list[TimeRange] = []
    for item in sorted(ranges, key=lambda r: _minutes(r.start)):
        if merged and _minutes(item.start) <= _minutes(merged[-1].end):
            last = merged[-1]
            end = max(_minutes(item.end), _minutes(last.end))
            merged[-1] = TimeRange(start=last.start, end=_clock(end))
        else:
            merged.append(item)
    return merged


class CalendarDocument(_Strict):
    """Business hours in a time zone; no `hours` means around the clock."""

    timezone: str = Field(default="UTC", description="IANA time zone, e.g. Europe/Berlin")
    hours: dict[Weekday, list[TimeRange]] | None = Field(
        default=None, description="Open hours per weekday; null or absent: 24x7."
    )
    holidays: list[date] = Field(default_factory=list, description="Dated holidays, YYYY-MM-DD.")
    yearly_holidays: list[MonthDay] = Field(
        default_factory=list, description="Holidays every year, MM-DD (e.g. 12-25)."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return validate_timezone(value)

    @field_validator("hours")
    @classmethod
    def _canonical_hours(
        cls, value: dict[Weekday, list[TimeRange]] | None
    ) -> dict[Weekday, list[TimeRange]] | None:
        # The calendar's own canonical form, so a document survives a round trip unchanged.
        if value is None:
            return None
        hours = {day: _merged(ranges) for day, ranges in value.items() if ranges}
        if not hours:
            raise ValueError("needs at least one open time range (or null for 24x7)")
        return dict(sorted(hours.items(), key=lambda item: WEEKDAYS.index(item[0])))

    @field_validator("holidays")
    @classmethod
    def _sorted_dates(cls, value: list[date]) -> list[date]:
        return sorted(set(value))

    @field_validator("yearly_holidays")
    @classmethod
    def _month_days(cls, value: list[str]) -> list[str]:
        return [str(h) for h in sorted({YearlyHoliday.parse(item) for item in value})]

    def to_calendar(self) -> BusinessCalendar:
        hours: dict[int, DayHours] | None = None
        if self.hours is not None:
            hours = {
                WEEKDAYS.index(day): tuple((_minutes(r.start), _minutes(r.end)) for r in ranges)
                for day, ranges in self.hours.items()
            }
        return BusinessCalendar(
            timezone=self.timezone,
            weekly_hours=hours,
            holidays=frozenset(self.holidays),
            yearly_holidays=frozenset(YearlyHoliday.parse(h) for h in self.yearly_holidays),
        )

    @classmethod
    def from_calendar(cls, calendar: BusinessCalendar) -> CalendarDocument:
        hours = None
        if calendar.weekly_hours is not None:
            hours = {
                WEEKDAYS[day]: [{"start": _clock(s), "end": _clock(e)} for s, e in ranges]
                for day, ranges in calendar.weekly_hours.items()
            }
        return cls.model_validate(
            {
                "timezone": calendar.timezone,
                "hours": hours,
                "holidays": sorted(calendar.holidays),
                "yearly_holidays": [str(h) for h in sorted(calendar.yearly_holidays)],
            }
        )
