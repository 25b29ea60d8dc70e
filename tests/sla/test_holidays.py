"""Yearly holidays on the business calendar and holidays imported from iCalendar files."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketing.sla import BusinessCalendar, YearlyHoliday
from ticketing.sla.ical import holidays_from_ical

H = timedelta(hours=1)
OFFICE = BusinessCalendar.office_hours("Europe/Berlin")
CHRISTMAS = YearlyHoliday(12, 25)


def test_yearly_holiday_on_a_weekday_is_skipped_every_year() -> None:
    calendar = BusinessCalendar.office_hours("Europe/Berlin", yearly_holidays=[CHRISTMAS])
    # Thursday 2026-12-24 16:00 Berlin: one hour left, Friday the 25th is closed, so Monday.
    start = datetime(2026, 12, 24, 15, tzinfo=UTC)
    assert calendar.add(start, 2 * H) == datetime(2026, 12, 28, 9, tzinfo=UTC)
    assert OFFICE.add(start, 2 * H) == datetime(2026, 12, 25, 9, tzinfo=UTC)
    # Friday 2028-12-22 16:00 Berlin: the 25th is a Monday that year, so Tuesday.
    start = datetime(2028, 12, 22, 15, tzinfo=UTC)
    assert calendar.add(start, 2 * H) == datetime(2028, 12, 26, 9, tzinfo=UTC)
    assert calendar.business_time_between(start, datetime(2028, 12, 26, 9, tzinfo=UTC)) == 2 * H
    assert calendar.is_holiday(date(2031, 12, 25))
    assert not calendar.is_holiday(date(2031, 12, 26))


def test_yearly_feb_29_only_in_leap_years() -> None:
    calendar = BusinessCalendar(yearly_holidays=frozenset({YearlyHoliday.parse("02-29")}))
    assert calendar.is_holiday(date(2028, 2, 29))
    assert not calendar.is_holiday(date(2027, 2, 28))
    assert not calendar.is_holiday(date(2027, 3, 1))
    assert not calendar.is_24x7


@pytest.mark.parametrize("text", ["12-32", "13-01", "02-30", "1-5", "12/25", "2026-12-25", ""])
def test_yearly_holiday_rejects_bad_text(text: str) -> None:
    with pytest.raises(ValueError, match="MM-DD|invalid yearly holiday"):
        YearlyHoliday.parse(text)


def test_calendar_dict_round_trip_with_yearly_holidays() -> None:
    calendar = BusinessCalendar.office_hours(
        "Europe/Berlin", holidays=[date(2026, 12, 24)], yearly_holidays=[CHRISTMAS]
    )
    data = calendar.to_dict()
    assert data["yearly_holidays"] == ["12-25"]
    assert BusinessCalendar.from_dict(json.loads(json.dumps(data))) == calendar
    # Calendars without yearly holidays keep the key set stored before they existed.
    assert "yearly_holidays" not in OFFICE.to_dict()
    with pytest.raises(ValueError, match=r"calendar\.yearly_holidays"):
        BusinessCalendar.from_dict({"yearly_holidays": ["12-40"]})


@settings(max_examples=100, deadline=None)
@given(
    st.sets(st.dates(date(2000, 1, 1), date(2000, 12, 31)), max_size=6),
    st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    st.integers(0, 120 * 3600).map(lambda s: timedelta(seconds=s)),
)
def test_yearly_holidays_equal_the_same_dates_every_year(
    days: set[date], start: datetime, duration: timedelta
) -> None:
    yearly = frozenset(YearlyHoliday(d.month, d.day) for d in days)
    dated = frozenset(
        date(year, d.month, d.day)
        for d in days
        for year in range(2024, 2034)
        if not (d.month == 2 and d.day == 29 and year % 4)
    )
    by_rule = BusinessCalendar.office_hours("Europe/Berlin", yearly_holidays=yearly)
    by_date = BusinessCalendar.office_hours("Europe/Berlin", holidays=dated)
    assert by_rule.add(start, duration) == by_date.add(start, duration)


ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//tests//holidays//EN
BEGIN:VEVENT
UID:christmas@tests
DTSTART;VALUE=DATE:20201225
DTEND;VALUE=DATE:20201227
RRULE:FREQ=YEARLY
SUMMARY:Christmas (two days)
END:VEVENT
BEGIN:VEVENT
UID:newyear@tests
DTSTART;VALUE=DATE:20200101
RRULE:FREQ=YEARLY;BYMONTH=1
SUMMARY:New Year
END:VEVENT
BEGIN:VEVENT
UID:eve@tests
DTSTART;VALUE=DATE:20261224
DTEND;VALUE=DATE:20261225
SUMMARY:Christmas Eve 2026 (a one-off closure)
END:VEVENT
BEGIN:VEVENT
UID:monthly@tests
DTSTART;VALUE=DATE:20260601
RRULE:FREQ=MONTHLY
SUMMARY:Not yearly: imported as the one date
END:VEVENT
BEGIN:VEVENT
UID:meeting@tests
DTSTART:20261223T100000Z
DTEND:20261223T110000Z
SUMMARY:A timed event is not a holiday
END:VEVENT
END:VCALENDAR
"""


def test_ical_import_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "holidays.ics"
    path.write_text(ICS.replace("\n", "\r\n"), encoding="utf-8")
    found = holidays_from_ical(path.read_bytes())
    assert found.yearly == {YearlyHoliday(12, 25), YearlyHoliday(12, 26), YearlyHoliday(1, 1)}
    assert found.dated == {date(2026, 12, 24), date(2026, 6, 1)}
    calendar = found.apply_to(BusinessCalendar.office_hours("Europe/Berlin"))
    assert calendar.is_holiday(date(2027, 12, 24)) is False
    assert calendar.is_holiday(date(2026, 12, 24))
    assert calendar.is_holiday(date(2029, 12, 26))
    # Wednesday 2026-12-23 16:00 Berlin: one hour that day, then Monday the 28th.
    start = datetime(2026, 12, 23, 15, tzinfo=UTC)
    assert calendar.add(start, 2 * H) == datetime(2026, 12, 28, 9, tzinfo=UTC)


def test_ical_import_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="iCalendar"):
        holidays_from_ical("this is not a calendar")
