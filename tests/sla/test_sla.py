"""Tests for the pure SLA calendar math in ticketing.sla."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketing.sla import (
    DEFAULT_POLICY,
    PRIORITIES,
    BusinessCalendar,
    Pause,
    SlaClock,
    SlaDeadlines,
    SlaPhase,
    SlaPolicy,
    SlaTargets,
    deadlines,
    demo_policy,
    due_at,
    next_threshold,
    paused_business_time,
    validate_timezone,
)
from ticketing.sla.stored import policy_from_dict, policy_to_dict

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
H = timedelta(hours=1)
M = timedelta(minutes=1)


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def every_day(zone: str, start_minute: int = 9 * 60, end_minute: int = 17 * 60) -> BusinessCalendar:
    return BusinessCalendar.office_hours(
        zone, start_minute=start_minute, end_minute=end_minute, weekdays=range(7)
    )


OFFICE_BERLIN = BusinessCalendar.office_hours("Europe/Berlin")


# --- BusinessCalendar.add / business_time_between -------------------------------------------


def test_always_adds_real_time_and_returns_utc() -> None:
    start = berlin(2026, 3, 28, 23, 30)
    result = BusinessCalendar.always().add(start, 5 * H)
    assert result == utc(2026, 3, 29, 3, 30)
    assert result.tzinfo is UTC
    assert BusinessCalendar.always().is_24x7


def test_add_zero_returns_start_even_outside_hours() -> None:
    saturday = berlin(2026, 3, 28, 12, 0)
    result = OFFICE_BERLIN.add(saturday, timedelta(0))
    assert result == utc(2026, 3, 28, 11, 0)
    assert result.tzinfo is UTC


def test_office_hours_across_a_night() -> None:
    tuesday_late = berlin(2026, 3, 24, 16, 0)
    assert OFFICE_BERLIN.add(tuesday_late, 2 * H) == berlin(2026, 3, 25, 10, 0)


def test_office_hours_across_a_weekend() -> None:
    friday_late = berlin(2026, 3, 27, 16, 0)
    assert OFFICE_BERLIN.add(friday_late, 2 * H) == berlin(2026, 3, 30, 10, 0)
    assert OFFICE_BERLIN.business_time_between(friday_late, berlin(2026, 3, 30, 10, 0)) == 2 * H


def test_start_outside_hours_waits_for_next_interval() -> None:
    saturday = berlin(2026, 3, 28, 12, 0)
    assert OFFICE_BERLIN.add(saturday, H) == berlin(2026, 3, 30, 10, 0)
    early_monday = berlin(2026, 3, 30, 6, 0)
    assert OFFICE_BERLIN.add(early_monday, 30 * M) == berlin(2026, 3, 30, 9, 30)


def test_exact_fill_returns_interval_end_not_next_start() -> None:
    monday = berlin(2026, 3, 30, 9, 0)
    assert OFFICE_BERLIN.add(monday, 8 * H) == berlin(2026, 3, 30, 17, 0)
    assert OFFICE_BERLIN.add(monday, 8 * H + M) == berlin(2026, 3, 31, 9, 1)


def test_long_duration_iterates_days() -> None:
    friday_late = berlin(2026, 3, 27, 16, 0)
    # 1h on Friday, then 14 full days of 8h, then 7h on the 15th business day.
    assert OFFICE_BERLIN.add(friday_late, 120 * H) == berlin(2026, 4, 17, 16, 0)


def test_holidays_are_skipped() -> None:
    calendar = BusinessCalendar.office_hours(
        "Europe/Berlin", holidays=[date(2026, 12, 25), date(2026, 12, 28)]
    )
    assert not calendar.is_24x7
    thursday = berlin(2026, 12, 24, 16, 0)
    assert calendar.add(thursday, 2 * H) == berlin(2026, 12, 29, 10, 0)
    assert calendar.business_time_between(thursday, berlin(2026, 12, 29, 10, 0)) == 2 * H


def test_24x7_with_holidays_is_not_fast_path() -> None:
    calendar = BusinessCalendar(timezone="Europe/Berlin", holidays=frozenset({date(2026, 5, 1)}))
    assert not calendar.is_24x7
    assert calendar.add(berlin(2026, 4, 30, 23, 0), 2 * H) == berlin(2026, 5, 2, 1, 0)


def test_multiple_intervals_per_day() -> None:
    split = BusinessCalendar(timezone="Europe/Berlin", weekly_hours={0: ((540, 720), (780, 1020))})
    monday = berlin(2026, 3, 30, 11, 0)
    assert split.add(monday, 2 * H) == berlin(2026, 3, 30, 14, 0)
    assert split.business_time_between(monday, berlin(2026, 3, 30, 14, 0)) == 2 * H


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        ("Europe/Berlin", date(2026, 3, 29)),
        ("Europe/Berlin", date(2026, 10, 25)),
        ("America/New_York", date(2026, 3, 8)),
        ("America/New_York", date(2026, 11, 1)),
    ],
)
def test_dst_day_nine_to_five_is_eight_real_hours(zone: str, day: date) -> None:
    tz = ZoneInfo(zone)
    calendar = every_day(zone)
    opening = datetime(day.year, day.month, day.day, 9, tzinfo=tz)
    closing = datetime(day.year, day.month, day.day, 17, tzinfo=tz)
    assert closing - opening == 8 * H
    assert calendar.add(opening, 8 * H) == closing
    day_start = datetime(day.year, day.month, day.day, tzinfo=tz)
    assert calendar.business_time_between(day_start, day_start + 48 * H) == 16 * H


@pytest.mark.parametrize(
    ("zone", "day", "real_hours", "after_24h"),
    [
        # Spring forward: the local day has 23 real hours, so 24h of business time ends at 01:00.
        ("Europe/Berlin", date(2026, 3, 29), 23, (2026, 3, 30, 1, 0)),
        ("America/New_York", date(2026, 3, 8), 23, (2026, 3, 9, 1, 0)),
        # Fall back: 25 real hours, so 24h ends at 23:00 the same local day.
        ("Europe/Berlin", date(2026, 10, 25), 25, (2026, 10, 25, 23, 0)),
        ("America/New_York", date(2026, 11, 1), 25, (2026, 11, 1, 23, 0)),
    ],
)
def test_dst_local_24x7_day_length(
    zone: str, day: date, real_hours: int, after_24h: tuple[int, int, int, int, int]
) -> None:
    tz = ZoneInfo(zone)
    calendar = BusinessCalendar(
        timezone=zone, weekly_hours={weekday: ((0, 1440),) for weekday in range(7)}
    )
    midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
    next_midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    assert calendar.business_time_between(midnight, next_midnight) == real_hours * H
    assert calendar.add(midnight, real_hours * H) == next_midnight
    assert calendar.add(midnight, 24 * H) == datetime(*after_24h, tzinfo=tz)


def test_interval_spanning_dst_gap_counts_real_time() -> None:
    night = BusinessCalendar(
        timezone="Europe/Berlin",
        weekly_hours={6: ((0, 360),)},
    )
    spring = berlin(2026, 3, 29, 0, 0)
    fall = berlin(2026, 10, 25, 0, 0)
    assert night.business_time_between(spring, spring + 24 * H) == 5 * H
    assert night.business_time_between(fall, fall + 24 * H) == 7 * H
    assert night.add(spring, 5 * H) == berlin(2026, 3, 29, 6, 0)


def test_interval_starting_inside_dst_gap_maps_forward() -> None:
    calendar = BusinessCalendar(timezone="Europe/Berlin", weekly_hours={6: ((150, 240),)})
    sunday = berlin(2026, 3, 29, 0, 0)
    # 02:30 does not exist; the clock starts at 03:00 CEST, giving one real hour until 04:00.
    assert calendar.business_time_between(sunday, sunday + 24 * H) == H
    assert calendar.add(sunday, 30 * M) == berlin(2026, 3, 29, 3, 30)


@pytest.mark.parametrize("argument", ["start", "end"])
def test_naive_datetimes_are_rejected(argument: str) -> None:
    naive = datetime(2026, 1, 1, 12, 0)
    aware = utc(2026, 1, 1, 12, 0)
    kwargs = {"start": aware, "end": aware, argument: naive}
    with pytest.raises(ValueError, match=argument):
        OFFICE_BERLIN.business_time_between(**kwargs)


def test_naive_start_rejected_by_add_even_for_24x7() -> None:
    with pytest.raises(ValueError, match="start"):
        BusinessCalendar.always().add(datetime(2026, 1, 1), H)


def test_negative_duration_rejected() -> None:
    with pytest.raises(ValueError, match="duration"):
        OFFICE_BERLIN.add(utc(2026, 1, 1), -H)


def test_business_time_between_reversed_is_zero() -> None:
    assert OFFICE_BERLIN.business_time_between(utc(2026, 1, 2), utc(2026, 1, 1)) == timedelta(0)


def test_calendar_without_hours_raises() -> None:
    empty = BusinessCalendar(timezone="UTC", weekly_hours={})
    with pytest.raises(ValueError, match="calendar has no business hours"):
        empty.add(utc(2026, 1, 1), H)
    assert empty.business_time_between(utc(2026, 1, 1), utc(2026, 2, 1)) == timedelta(0)
    assert empty.add(utc(2026, 1, 1), timedelta(0)) == utc(2026, 1, 1)


def test_calendar_whose_hours_are_all_holidays_raises() -> None:
    mondays = frozenset(date(2026, 1, 5) + timedelta(weeks=n) for n in range(4 * 53))
    calendar = BusinessCalendar.office_hours("UTC", weekdays=[0], holidays=mondays)
    with pytest.raises(ValueError, match="calendar has no business hours"):
        calendar.add(utc(2026, 1, 1), H)


@pytest.mark.parametrize(
    "hours",
    [{0: ((600, 600),)}, {0: ((-1, 60),)}, {0: ((0, 1441),)}, {7: ((0, 60),)}],
)
def test_invalid_weekly_hours_rejected(hours: dict[int, tuple[tuple[int, int], ...]]) -> None:
    with pytest.raises(ValueError, match="weekly_hours"):
        BusinessCalendar(weekly_hours=hours)


def test_validate_timezone() -> None:
    assert validate_timezone("Europe/Berlin") == "Europe/Berlin"
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        validate_timezone("Mars/Olympus")
    with pytest.raises(ValueError, match="unknown time zone"):
        BusinessCalendar(timezone="Nowhere/Special")


def test_calendar_normalizes_and_hashes() -> None:
    a = BusinessCalendar(timezone="UTC", weekly_hours={0: ((600, 700), (540, 610)), 1: ()})
    b = BusinessCalendar(timezone="UTC", weekly_hours={0: ((540, 700),)})
    assert a == b
    assert hash(a) == hash(b)
    assert a.weekly_hours == {0: ((540, 700),)}


def test_calendar_dict_round_trip() -> None:
    calendar = BusinessCalendar.office_hours(
        "America/New_York", holidays=[date(2026, 12, 25), date(2026, 7, 3)]
    )
    data = calendar.to_dict()
    assert data == {
        "timezone": "America/New_York",
        "weekly_hours": {str(d): [[540, 1020]] for d in range(5)},
        "holidays": ["2026-07-03", "2026-12-25"],
    }
    assert BusinessCalendar.from_dict(json.loads(json.dumps(data))) == calendar
    assert BusinessCalendar.from_dict(None) == BusinessCalendar.always()
    assert BusinessCalendar.always().to_dict() == {
        "timezone": "UTC",
        "weekly_hours": None,
        "holidays": [],
    }


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"timezone": "Mars/Olympus"}, "calendar.timezone"),
        ({"weekly_hours": {"0": [[600, 500]]}}, "calendar.weekly_hours.0"),
        ({"weekly_hours": {"x": [[0, 60]]}}, "calendar.weekly_hours.x"),
        ({"holidays": ["not-a-date"]}, "calendar.holidays"),
        ({"zone": "UTC"}, "zone"),
    ],
)
def test_calendar_from_dict_errors_name_the_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        BusinessCalendar.from_dict(data)


# --- SlaPolicy -------------------------------------------------------------------------------


def test_default_policy_targets() -> None:
    expected = {
        "urgent": (1, 4),
        "high": (4, 24),
        "normal": (8, 72),
        "low": (24, 120),
    }
    for priority, (first, resolution) in expected.items():
        assert DEFAULT_POLICY.targets_for(priority, "incident") == SlaTargets(
            first * H, resolution * H
        )
    assert DEFAULT_POLICY.calendar.is_24x7
    assert DEFAULT_POLICY.warning_percents == (75,)
    assert set(DEFAULT_POLICY.targets) == set(PRIORITIES)


def test_outage_report_type_wins_and_is_24x7() -> None:
    policy = dataclasses.replace(DEFAULT_POLICY, calendar=OFFICE_BERLIN)
    assert policy.targets_for("low", "outage_report") == SlaTargets(H, 4 * H)
    assert policy.calendar_for("outage_report").is_24x7
    assert policy.calendar_for("incident") == OFFICE_BERLIN
    assert policy.targets_for("low", "incident") == SlaTargets(24 * H, 120 * H)


def test_unknown_priority_raises() -> None:
    with pytest.raises(ValueError, match="unknown priority 'critical'"):
        DEFAULT_POLICY.targets_for("critical", "incident")


def test_policy_round_trip() -> None:
    policy = SlaPolicy(
        targets={p: SlaTargets((i + 1) * H, (i + 1) * 10 * H) for i, p in enumerate(PRIORITIES)},
        type_overrides={"billing_issue": SlaTargets(2 * H, 48 * H)},
        calendar=BusinessCalendar.office_hours("Europe/Berlin", holidays=[date(2026, 12, 25)]),
        type_calendars={"outage_report": BusinessCalendar.always()},
        warning_percents=(50,),
    )
    data = policy_to_dict(policy)
    assert data["targets"] == {
        "low": {
            "first_response_seconds": 3600,
            "next_reply_seconds": None,
            "resolution_seconds": 36000,
            "keep_in_loop_seconds": None,
        },
        "normal": {
            "first_response_seconds": 7200,
            "next_reply_seconds": None,
            "resolution_seconds": 72000,
            "keep_in_loop_seconds": None,
        },
        "high": {
            "first_response_seconds": 10800,
            "next_reply_seconds": None,
            "resolution_seconds": 108000,
            "keep_in_loop_seconds": None,
        },
        "urgent": {
            "first_response_seconds": 14400,
            "next_reply_seconds": None,
            "resolution_seconds": 144000,
            "keep_in_loop_seconds": None,
        },
    }
    assert policy_from_dict(json.loads(json.dumps(data))) == policy
    assert policy_from_dict(policy_to_dict(DEFAULT_POLICY)) == DEFAULT_POLICY
    assert hash(policy_from_dict(policy_to_dict(DEFAULT_POLICY))) == hash(DEFAULT_POLICY)


def test_policy_from_dict_defaults() -> None:
    assert policy_from_dict(None) is DEFAULT_POLICY
    assert policy_from_dict({}) == DEFAULT_POLICY
    partial = policy_from_dict({"targets": {"high": {"resolution": 7200}}, "warning_ratio": 0.5})
    assert partial.targets["high"] == SlaTargets(4 * H, 2 * H)
    assert partial.targets["low"] == DEFAULT_POLICY.targets["low"]
    assert partial.warning_percents == (50,)
    assert partial.type_overrides == DEFAULT_POLICY.type_overrides
    no_overrides = policy_from_dict({"type_overrides": {}, "type_calendars": {}})
    assert no_overrides.targets_for("normal", "outage_report") == SlaTargets(8 * H, 72 * H)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"targets": {"high": {"resolution": -5}}}, "targets.high.resolution"),
        ({"targets": {"high": {"resolution": "1h"}}}, "targets.high.resolution"),
        ({"targets": {"critical": {"resolution": 60}}}, "critical"),
        ({"targets": []}, "targets"),
        ({"type_overrides": {"billing": {"first_response": 60}}}, "type_overrides.billing"),
        ({"warning_ratio": 1.5}, "warning_ratio"),
        ({"warning_ratio": True}, "warning_ratio"),
        ({"calendar": {"timezone": "Mars/Olympus"}}, "calendar.timezone"),
        ({"type_calendars": {"outage_report": 5}}, "type_calendars.outage_report"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_policy_from_dict_errors_name_the_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        policy_from_dict(data)


def test_policy_requires_every_priority() -> None:
    with pytest.raises(ValueError, match="missing priority 'low'"):
        SlaPolicy(targets={p: SlaTargets(H, H) for p in PRIORITIES if p != "low"})


def test_demo_policy() -> None:
    policy = demo_policy()
    s = timedelta(seconds=1)
    assert policy.targets_for("urgent", "incident") == SlaTargets(10 * s, 30 * s)
    assert policy.targets_for("high", "incident") == SlaTargets(20 * s, 60 * s)
    assert policy.targets_for("normal", "incident") == SlaTargets(30 * s, 90 * s)
    assert policy.targets_for("low", "incident") == SlaTargets(60 * s, 180 * s)
    assert policy.calendar.is_24x7
    assert demo_policy(3).targets_for("low", "incident") == SlaTargets(180 * s, 540 * s)
    with pytest.raises(ValueError, match="scale_seconds"):
        demo_policy(0)


# --- pauses and due dates --------------------------------------------------------------------


def test_paused_business_time_overlapping_and_open() -> None:
    pauses = [
        Pause(utc(2026, 1, 5, 10), utc(2026, 1, 5, 12)),
        Pause(utc(2026, 1, 5, 11), utc(2026, 1, 5, 13)),  # overlaps the first: counts once
        Pause(utc(2026, 1, 5, 15)),  # open: counts up to now
    ]
    total = paused_business_time(
        BusinessCalendar.always(), pauses, since=utc(2026, 1, 5, 9), now=utc(2026, 1, 5, 16)
    )
    assert total == 4 * H


def test_paused_business_time_clipped_to_window_and_hours() -> None:
    pauses = [
        Pause(utc(2026, 1, 5, 6), utc(2026, 1, 5, 10)),  # half before `since`
        Pause(utc(2026, 1, 5, 16), utc(2026, 1, 6, 10)),  # crosses a night, ends after `now`
    ]
    office = BusinessCalendar.office_hours("UTC")
    total = paused_business_time(
        office, pauses, since=utc(2026, 1, 5, 8), now=utc(2026, 1, 6, 9, 30)
    )
    # 09:00-10:00 on day one, 16:00-17:00 on day one, 09:00-09:30 on day two.
    assert total == 2 * H + 30 * M


def test_paused_business_time_rejects_naive_pause() -> None:
    with pytest.raises(ValueError, match=r"pauses\[0\]\.start"):
        paused_business_time(
            BusinessCalendar.always(),
            [Pause(datetime(2026, 1, 5, 10))],
            since=utc(2026, 1, 5),
            now=utc(2026, 1, 6),
        )


def test_due_at_with_pause_and_ratio() -> None:
    office = BusinessCalendar.office_hours("UTC")
    start = utc(2026, 1, 5, 9)  # Monday
    pauses = [Pause(utc(2026, 1, 5, 10), utc(2026, 1, 5, 12))]
    assert due_at(office, start=start, target=8 * H, pauses=[], now=start) == utc(2026, 1, 5, 17)
    due = due_at(office, start=start, target=8 * H, pauses=pauses, now=utc(2026, 1, 5, 13))
    assert due == utc(2026, 1, 6, 11)
    warning = due_at(
        office, start=start, target=8 * H, pauses=pauses, now=utc(2026, 1, 5, 13), ratio=0.75
    )
    assert warning == utc(2026, 1, 5, 17)


# --- deadlines() -----------------------------------------------------------------------------

CREATED = utc(2026, 1, 5, 10)


def clock(**changes: object) -> SlaClock:
    base = SlaClock(
        priority="high",
        ticket_type="incident",
        created_at=CREATED,
        resolution_started_at=CREATED,
        first_response_at=None,
        pauses=(),
        done=False,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_deadlines_waiting_for_first_response() -> None:
    d = deadlines(DEFAULT_POLICY, clock(), utc(2026, 1, 5, 11))
    assert d == SlaDeadlines(
        phase=SlaPhase.FIRST_RESPONSE,
        paused=False,
        first_response_due=utc(2026, 1, 5, 14),
        first_response_warning_at=utc(2026, 1, 5, 13),
        resolution_due=utc(2026, 1, 6, 10),
        resolution_warning_at=utc(2026, 1, 6, 4),
        first_response_met=False,
    )


def test_deadlines_closed_pause_extends_both_windows() -> None:
    c = clock(pauses=(Pause(utc(2026, 1, 5, 11), utc(2026, 1, 5, 11, 30)),))
    d = deadlines(DEFAULT_POLICY, c, utc(2026, 1, 5, 12))
    assert d.phase is SlaPhase.FIRST_RESPONSE
    assert d.first_response_due == utc(2026, 1, 5, 14, 30)
    assert d.resolution_due == utc(2026, 1, 6, 10, 30)


def test_deadlines_open_pause_is_paused_phase() -> None:
    c = clock(pauses=(Pause(utc(2026, 1, 5, 11)),))
    d = deadlines(DEFAULT_POLICY, c, utc(2026, 1, 5, 12))
    assert d.phase is SlaPhase.PAUSED
    assert d.paused
    assert d.first_response_due == utc(2026, 1, 5, 15)


def test_deadlines_after_response_is_resolution_phase() -> None:
    c = clock(
        first_response_at=utc(2026, 1, 5, 11, 15),
        pauses=(Pause(utc(2026, 1, 5, 12), utc(2026, 1, 5, 13)),),
    )
    d = deadlines(DEFAULT_POLICY, c, utc(2026, 1, 5, 14))
    assert d.phase is SlaPhase.RESOLUTION
    assert d.first_response_met
    # A pause after the response must not move the (already settled) first-response due date.
    assert d.first_response_due == utc(2026, 1, 5, 14)
    assert d.resolution_due == utc(2026, 1, 6, 11)


def test_deadlines_fresh_resolution_window_ignores_earlier_pauses() -> None:
    c = clock(
        resolution_started_at=utc(2026, 1, 5, 20),
        first_response_at=utc(2026, 1, 5, 10, 30),
        pauses=(Pause(utc(2026, 1, 5, 11), utc(2026, 1, 5, 12)),),
    )
    d = deadlines(DEFAULT_POLICY, c, utc(2026, 1, 5, 21))
    assert d.resolution_due == utc(2026, 1, 6, 20)
    assert d.resolution_warning_at == utc(2026, 1, 6, 14)


def test_deadlines_done() -> None:
    d = deadlines(DEFAULT_POLICY, clock(done=True, pauses=(Pause(CREATED),)), utc(2026, 1, 5, 11))
    assert d.phase is SlaPhase.DONE
    assert d.resolution_due == utc(2026, 1, 6, 11)


def test_deadlines_office_calendar_and_outage_override() -> None:
    policy = dataclasses.replace(DEFAULT_POLICY, calendar=OFFICE_BERLIN)
    friday = berlin(2026, 3, 27, 16, 0)
    normal = deadlines(
        policy, clock(priority="normal", created_at=friday, resolution_started_at=friday), friday
    )
    assert normal.first_response_due == berlin(2026, 3, 30, 16, 0)
    saturday = berlin(2026, 3, 28, 12, 0)
    outage = deadlines(
        policy,
        clock(
            priority="low",
            ticket_type="outage_report",
            created_at=saturday,
            resolution_started_at=saturday,
        ),
        saturday,
    )
    assert outage.first_response_due == berlin(2026, 3, 28, 13, 0)
    assert outage.resolution_due == berlin(2026, 3, 28, 16, 0)


def test_sla_phase_values() -> None:
    assert [p.value for p in SlaPhase] == ["first_response", "resolution", "paused", "done"]
    assert SlaPhase.PAUSED == "paused"


# --- next_threshold() ------------------------------------------------------------------------


def sample_deadlines(**changes: object) -> SlaDeadlines:
    # Built afresh, not with dataclasses.replace: the thresholds derive from the named fields.
    fields: dict[str, object] = {
        "phase": SlaPhase.FIRST_RESPONSE,
        "paused": False,
        "first_response_due": utc(2026, 1, 5, 14),
        "first_response_warning_at": utc(2026, 1, 5, 13),
        "resolution_due": utc(2026, 1, 6, 10),
        "resolution_warning_at": utc(2026, 1, 6, 4),
        "first_response_met": False,
    }
    return SlaDeadlines(**{**fields, **changes})  # type: ignore[arg-type]


NONE: frozenset[str] = frozenset()


def test_next_threshold_ordering_and_skipping() -> None:
    d = sample_deadlines()
    fr = frozenset({"first_response"})
    both = frozenset({"first_response", "resolution"})
    assert next_threshold(d, warned=NONE, breached=NONE) == (
        "first_response_warning",
        utc(2026, 1, 5, 13),
    )
    assert next_threshold(d, warned=fr, breached=NONE) == (
        "first_response",
        utc(2026, 1, 5, 14),
    )
    assert next_threshold(d, warned=fr, breached=fr) == ("resolution_warning", utc(2026, 1, 6, 4))
    assert next_threshold(d, warned=NONE, breached=fr) == ("resolution_warning", utc(2026, 1, 6, 4))
    assert next_threshold(d, warned=both, breached=fr) == ("resolution", utc(2026, 1, 6, 10))
    assert next_threshold(d, warned=both, breached=both) is None


def test_next_threshold_skips_first_response_once_met() -> None:
    d = sample_deadlines(phase=SlaPhase.RESOLUTION, first_response_met=True)
    assert next_threshold(d, warned=NONE, breached=NONE) == (
        "resolution_warning",
        utc(2026, 1, 6, 4),
    )


def test_next_threshold_earliest_wins_across_windows() -> None:
    d = sample_deadlines(resolution_warning_at=utc(2026, 1, 5, 12))
    assert next_threshold(d, warned=NONE, breached=NONE) == (
        "resolution_warning",
        utc(2026, 1, 5, 12),
    )


def test_next_threshold_tie_prefers_first_response_warning() -> None:
    same = utc(2026, 1, 5, 13)
    d = sample_deadlines(first_response_warning_at=same, resolution_warning_at=same)
    assert next_threshold(d, warned=NONE, breached=NONE) == ("first_response_warning", same)


@pytest.mark.parametrize("phase", [SlaPhase.DONE, SlaPhase.PAUSED])
def test_next_threshold_none_when_done_or_paused(phase: SlaPhase) -> None:
    d = sample_deadlines(phase=phase, paused=phase is SlaPhase.PAUSED)
    assert next_threshold(d, warned=NONE, breached=NONE) is None


# --- properties ------------------------------------------------------------------------------

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
START_ZONES = [ZoneInfo(z) for z in [*ZONES, "America/Santiago"]]


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    kind = draw(st.sampled_from(["always", "office", "local24", "split"]))
    if kind == "always":
        return BusinessCalendar.always()
    zone = draw(st.sampled_from(ZONES))
    holidays = draw(
        st.frozensets(st.dates(date(2024, 1, 1), date(2031, 12, 31)), max_size=8)
        | st.builds(
            lambda first, n: frozenset(first + timedelta(days=i) for i in range(n)),
            st.dates(date(2024, 1, 1), date(2030, 12, 31)),
            st.integers(0, 20),
        )
    )
    if kind == "local24":
        return BusinessCalendar(timezone=zone, holidays=holidays)
    weekdays = draw(st.sets(st.integers(0, 6), min_size=1))
    # At least an hour a day keeps 200h of business time within a few years of calendar days.
    start = draw(st.integers(0, 23 * 60))
    end = draw(st.integers(start + 60, 24 * 60))
    if kind == "office":
        return BusinessCalendar.office_hours(
            zone, start_minute=start, end_minute=end, weekdays=weekdays, holidays=holidays
        )
    gap_start = draw(st.integers(start, end - 1))
    gap_end = draw(st.integers(gap_start, end - 1))
    day = tuple(i for i in ((start, gap_start), (gap_end, end)) if i[0] < i[1])
    return BusinessCalendar(
        timezone=zone,
        weekly_hours={weekday: day for weekday in weekdays},
        holidays=holidays,
    )


starts = st.datetimes(
    min_value=datetime(2024, 1, 1),
    max_value=datetime(2030, 12, 31),
    timezones=st.sampled_from(START_ZONES),
)
durations = st.integers(0, 200 * 3600).map(lambda s: timedelta(seconds=s))
PROPERTY = settings(max_examples=200, deadline=None)


@PROPERTY
@given(calendars(), starts, durations)
def test_add_never_goes_back(calendar: BusinessCalendar, start: datetime, d: timedelta) -> None:
    result = calendar.add(start, d)
    assert result >= start
    assert result.tzinfo is UTC


@PROPERTY
@given(calendars(), starts, durations, durations)
def test_add_is_monotonic(
    calendar: BusinessCalendar, start: datetime, a: timedelta, b: timedelta
) -> None:
    d1, d2 = sorted((a, b))
    assert calendar.add(start, d1) <= calendar.add(start, d2)


@PROPERTY
@given(calendars(), starts, durations)
def test_business_time_between_inverts_add(
    calendar: BusinessCalendar, start: datetime, d: timedelta
) -> None:
    assert calendar.business_time_between(start, calendar.add(start, d)) == d


@PROPERTY
@given(calendars(), starts, durations, durations)
def test_add_is_additive(
    calendar: BusinessCalendar, start: datetime, a: timedelta, b: timedelta
) -> None:
    assert calendar.add(start, a + b) == calendar.add(calendar.add(start, a), b)


@PROPERTY
@given(
    calendars(),
    starts,
    st.integers(1, 200 * 3600).map(lambda s: timedelta(seconds=s)),
    st.floats(0, 1),
    st.floats(0, 1),
    st.booleans(),
)
def test_pause_moves_due_by_its_business_length(
    calendar: BusinessCalendar,
    start: datetime,
    target: timedelta,
    f0: float,
    f1: float,
    now_at_due: bool,
) -> None:
    original = due_at(calendar, start=start, target=target, pauses=[], now=start)
    # Aware arithmetic within one zone is wall-clock arithmetic in Python, so go through UTC.
    begin = start.astimezone(UTC)
    p0 = begin + (original - begin) * f0
    p1 = p0 + (original - p0) * f1
    now = original if now_at_due else p1
    moved = due_at(calendar, start=start, target=target, pauses=[Pause(p0, p1)], now=now)
    assert moved == calendar.add(original, calendar.business_time_between(p0, p1))
    assert moved >= original
