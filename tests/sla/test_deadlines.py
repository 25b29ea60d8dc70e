"""Deadline rules: threshold kinds, pauses only before the due, several warnings, next reply."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketing.sla import (
    DEFAULT_POLICY,
    BusinessCalendar,
    Pause,
    SlaClock,
    SlaPolicy,
    SlaTargets,
    SlaWindow,
    ThresholdKind,
    auto_close_at,
    deadlines,
    due_at,
    next_threshold,
    sla_statistics,
    upcoming_threshold,
)

H = timedelta(hours=1)
M = timedelta(minutes=1)
FR, NR, RES = SlaWindow.FIRST_RESPONSE, SlaWindow.NEXT_REPLY, SlaWindow.RESOLUTION


def utc(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


CREATED = utc(5, 10)  # a Monday
TARGETS = SlaTargets(first_response=4 * H, resolution=24 * H, next_reply=2 * H)
POLICY = SlaPolicy(targets={p: TARGETS for p in ("low", "normal", "high", "urgent")})


def clock(**changes: object) -> SlaClock:
    base = SlaClock(
        priority="high",
        ticket_type="general_inquiry",
        created_at=CREATED,
        resolution_started_at=CREATED,
        first_response_at=None,
        pauses=(),
        done=False,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


# --- threshold kinds -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("first_response_warning", ThresholdKind(FR, 75)),
        ("first_response", ThresholdKind(FR, None)),
        ("resolution_warning", ThresholdKind(RES, 75)),
        ("resolution", ThresholdKind(RES, None)),
        ("resolution_warning_90", ThresholdKind(RES, 90)),
        ("next_reply_warning_50", ThresholdKind(NR, 50)),
        ("next_reply", ThresholdKind(NR, None)),
    ],
)
def test_stored_kind_strings_keep_their_meaning(text: str, kind: ThresholdKind) -> None:
    assert ThresholdKind.parse(text) == kind
    assert str(kind) == text


@given(st.sampled_from(list(SlaWindow)), st.none() | st.integers(1, 100))
def test_kind_parse_inverts_str(window: SlaWindow, percent: int | None) -> None:
    kind = ThresholdKind(window, percent)
    assert ThresholdKind.parse(str(kind)) == kind
    assert kind.is_breach is (percent is None)


@pytest.mark.parametrize(
    "text",
    [
        "resolution_warning_75",
        "resolution_breach",
        "solution",
        "resolution_warning_0",
        "",
        "x",
        "resolution\n",  # `$` alone matches before a final newline
        "first_response_warning\n",
    ],
)
def test_kind_parse_rejects_other_spellings(text: str) -> None:
    with pytest.raises(ValueError, match="threshold kind|percent"):
        ThresholdKind.parse(text)


# --- pauses extend only the due times they begin before ---------------------------------------


def test_pause_after_due_does_not_move_it() -> None:
    office = BusinessCalendar.office_hours("UTC")
    start = utc(5, 9)
    due = utc(5, 17)
    late = [Pause(utc(5, 17), utc(6, 12))]
    assert due_at(office, start=start, target=8 * H, pauses=late, now=utc(6, 13)) == due
    later = [Pause(utc(6, 10), None)]
    assert due_at(office, start=start, target=8 * H, pauses=later, now=utc(7, 9)) == due
    d = deadlines(POLICY, clock(pauses=(Pause(utc(5, 15), utc(5, 20)),)), utc(5, 21))
    assert d.first_response_due == utc(5, 14)
    # The same pause began before the resolution due: that one moves by five hours.
    assert d.resolution_due == utc(6, 15)


def test_pause_straddling_the_due_moves_it_by_its_whole_length() -> None:
    pauses = (Pause(utc(5, 13), utc(5, 16)),)
    d = deadlines(POLICY, clock(pauses=pauses), utc(5, 17))
    assert d.first_response_due == utc(5, 17)
    # Warning at 75 % (13:00) is due exactly when the pause begins: it is not moved.
    assert d.first_response_warning_at == utc(5, 13)


def test_a_moved_due_catches_a_later_pause() -> None:
    pauses = (Pause(utc(5, 11), utc(5, 13)), Pause(utc(5, 15), utc(5, 16)))
    d = deadlines(POLICY, clock(pauses=pauses), utc(5, 18))
    # 14:00 moves to 16:00 by the first pause; the second began at 15:00, before it: 17:00.
    assert d.first_response_due == utc(5, 17)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 100 * 3600).map(lambda s: timedelta(seconds=s)),
    st.integers(0, 50 * 3600).map(lambda s: timedelta(seconds=s)),
    st.integers(1, 50 * 3600).map(lambda s: timedelta(seconds=s)),
    st.sampled_from([BusinessCalendar.always(), BusinessCalendar.office_hours("Europe/Berlin")]),
)
def test_pauses_beginning_at_or_after_the_due_never_move_it(
    target: timedelta, after: timedelta, length: timedelta, calendar: BusinessCalendar
) -> None:
    start = utc(5, 9)
    due = due_at(calendar, start=start, target=target, pauses=[], now=start)
    pause = Pause(due + after, due + after + length)
    now = due + after + 2 * length
    assert due_at(calendar, start=start, target=target, pauses=[pause], now=now) == due


# --- several warning thresholds --------------------------------------------------------------


def watch(policy: SlaPolicy, c: SlaClock, now: datetime) -> list[tuple[str, datetime]]:
    """Fire every threshold the way the watcher does, one at a time, as of `now`."""
    d = deadlines(policy, c, now)
    fired: list[ThresholdKind] = []
    seen: list[tuple[str, datetime]] = []
    while (upcoming := upcoming_threshold(d, fired)) is not None and upcoming.at <= now:
        fired.append(upcoming.kind)
        seen.append((str(upcoming.kind), upcoming.at))
    return seen


def test_three_thresholds_each_fire_once_in_order() -> None:
    policy = dataclasses.replace(POLICY, warning_percents=(90, 50, 75))
    assert policy.warning_percents == (50, 75, 90)
    fired = watch(policy, clock(), utc(6, 11))
    assert fired == [
        ("first_response_warning_50", utc(5, 12)),
        ("first_response_warning", utc(5, 13)),
        ("first_response_warning_90", utc(5, 13, 36)),
        ("first_response", utc(5, 14)),
        ("resolution_warning_50", utc(5, 22)),
        ("resolution_warning", utc(6, 4)),
        ("resolution_warning_90", utc(6, 7, 36)),
        ("resolution", utc(6, 10)),
    ]
    assert len({kind for kind, _ in fired}) == len(fired)


def test_watcher_that_overslept_fires_the_same_sequence() -> None:
    policy = dataclasses.replace(POLICY, warning_percents=(50, 75, 90))
    step_by_step = []
    d = deadlines(policy, clock(), utc(5, 10))
    fired: list[ThresholdKind] = []
    while (upcoming := upcoming_threshold(d, fired)) is not None:
        fired.append(upcoming.kind)
        step_by_step.append((str(upcoming.kind), upcoming.at))
    assert step_by_step == watch(policy, clock(), utc(9))


def test_breached_window_fires_no_later_warnings_and_a_response_closes_it() -> None:
    policy = dataclasses.replace(POLICY, warning_percents=(50, 90))
    d = deadlines(policy, clock(), utc(5, 10))
    first_breach = ThresholdKind.breach(FR)
    upcoming = upcoming_threshold(d, [first_breach])
    assert upcoming is not None and str(upcoming.kind) == "resolution_warning_50"
    responded = deadlines(policy, clock(first_response_at=utc(5, 11)), utc(5, 11))
    assert next_threshold(responded, fired=["first_response_warning_50"]) == (
        "resolution_warning_50",
        utc(5, 22),
    )


def test_legacy_callers_get_todays_kinds_for_the_default_threshold() -> None:
    d = deadlines(DEFAULT_POLICY, clock(), utc(5, 11))
    none: frozenset[str] = frozenset()
    assert next_threshold(d, warned=none, breached=none) == ("first_response_warning", utc(5, 13))
    fr = frozenset({"first_response"})
    assert next_threshold(d, warned=fr, breached=none) == ("first_response", utc(5, 14))
    assert next_threshold(d, warned=fr, breached=fr) == ("resolution_warning", utc(6, 4))
    assert d.at(ThresholdKind.parse("resolution_warning")) == d.resolution_warning_at
    assert d.at(ThresholdKind.breach(RES)) == d.resolution_due == utc(6, 10)


def test_no_warning_thresholds_means_breaches_only() -> None:
    policy = dataclasses.replace(POLICY, warning_percents=())
    d = deadlines(policy, clock(), utc(5, 10))
    assert d.first_response_warning_at is None
    assert [str(t.kind) for t in d.thresholds] == ["first_response", "resolution"]


# --- next reply --------------------------------------------------------------------------------


def test_next_reply_window_runs_from_the_oldest_unanswered_message() -> None:
    c = clock(first_response_at=utc(5, 11), awaiting_reply_since=utc(5, 15))
    d = deadlines(POLICY, c, utc(5, 15))
    assert d.next_reply_due == utc(5, 17)
    assert d.at(ThresholdKind.warning(NR)) == utc(5, 16, 30)
    assert next_threshold(d) == ("next_reply_warning", utc(5, 16, 30))
    assert next_threshold(d, fired=["next_reply_warning"]) == ("next_reply", utc(5, 17))
    upcoming = upcoming_threshold(d, ["next_reply_warning", "next_reply"])
    assert upcoming is not None and upcoming.kind == ThresholdKind.warning(RES)


def test_next_reply_is_paused_like_the_others() -> None:
    c = clock(
        first_response_at=utc(5, 11),
        awaiting_reply_since=utc(5, 15),
        pauses=(Pause(utc(5, 16), utc(5, 18)),),
    )
    assert deadlines(POLICY, c, utc(5, 19)).next_reply_due == utc(5, 19)


def test_no_next_reply_window_without_a_waiting_message_or_a_target() -> None:
    assert deadlines(POLICY, clock(), utc(5, 11)).next_reply_due is None
    waiting = clock(awaiting_reply_since=utc(5, 12))
    assert deadlines(DEFAULT_POLICY, waiting, utc(5, 12)).next_reply_due is None


# --- statistics --------------------------------------------------------------------------------


def test_statistics_in_business_time() -> None:
    office = BusinessCalendar.office_hours("UTC")
    policy = SlaPolicy(
        targets={p: SlaTargets(2 * H, 8 * H) for p in ("low", "normal", "high", "urgent")},
        calendar=office,
    )
    c = clock(
        created_at=utc(5, 16),
        resolution_started_at=utc(5, 16),
        first_response_at=utc(6, 9, 30),  # 1.5 business hours later: met with 30 min to spare
        pauses=(Pause(utc(6, 10), utc(6, 12)),),
        done=True,
    )
    stats = sla_statistics(policy, c, resolved_at=utc(7, 12), now=utc(8))
    assert stats.first_response_minutes == 90
    assert stats.hold_minutes == 120
    # Mon 16-17, Tue 09-17, Wed 09-12 = 12 h, less the 2 h hold.
    assert stats.resolution_minutes == 600
    first = stats.outcome(FR)
    assert first is not None and first.met is True and first.margin_minutes == 30
    resolution = stats.outcome(RES)
    # Due Tue 16:00 without the hold, Wed 10:00 with it; resolved Wed 12:00: 2 h late.
    assert resolution is not None and resolution.due == utc(7, 10)
    assert resolution.met is False and resolution.margin == -2 * H


def test_statistics_of_an_open_ticket() -> None:
    stats = sla_statistics(POLICY, clock(), resolved_at=None, now=utc(5, 12))
    assert stats.first_response_time is None and stats.resolution_time is None
    first = stats.outcome(FR)
    assert first is not None and first.met is None and first.margin == 2 * H
    late = sla_statistics(POLICY, clock(), resolved_at=None, now=utc(5, 15))
    assert late.outcome(FR) is not None and late.outcome(FR).met is False  # type: ignore[union-attr]


def test_auto_close_at() -> None:
    assert auto_close_at(POLICY, utc(5)) is None
    policy = dataclasses.replace(POLICY, auto_close_after=timedelta(days=4))
    assert auto_close_at(policy, utc(5, 10)) == utc(9, 10)
