"""The public SLA policy document: round trips, JSON-path errors, schema, legacy format, rules."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ticketing.sla as sla_package
from ticketing.core.errors import InvalidInput
from ticketing.sla import (
    DEFAULT_POLICY,
    PRIORITIES,
    BusinessCalendar,
    SlaPolicy,
    SlaPolicyDocument,
    SlaRule,
    SlaTargets,
    YearlyHoliday,
    demo_policy,
    parse_policy_document,
    policy_json_schema,
)
from ticketing.sla.stored import policy_from_dict, policy_to_dict
from ticketing.temporal.schemas import Channel, TicketType

H = timedelta(hours=1)
SCHEMA_FILE = Path(sla_package.__file__).parent / "sla-policy.schema.json"


def targets(first: int, resolution: int, next_reply: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"first_response_seconds": first, "resolution_seconds": resolution}
    if next_reply is not None:
        data["next_reply_seconds"] = next_reply
    return data


def full_document() -> dict[str, Any]:
    return {
        "version": 1,
        "calendar": {
            "timezone": "Europe/Berlin",
            "hours": {
                "mon": [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}],
                "tue": [{"start": "08:00", "end": "17:00"}],
                "sat": [{"start": "10:00", "end": "24:00"}],
            },
            "holidays": ["2026-12-24"],
            "yearly_holidays": ["12-25", "01-01"],
        },
        "targets": {
            "low": targets(86400, 432000),
            "normal": targets(28800, 259200, 28800),
            "high": targets(14400, 86400, 7200),
            "urgent": targets(3600, 14400, 1800),
        },
        "type_overrides": {
            "outage_report": {"targets": targets(900, 7200), "calendar": {"timezone": "UTC"}},
            "billing_issue": {"calendar": {"timezone": "Europe/Berlin"}},
        },
        "rules": [
            {
                "name": "enterprise by chat",
                "when": {"customer_plans": ["enterprise"], "channels": ["chat"]},
                "targets": {"urgent": targets(300, 3600)},
                "calendar": {"timezone": "UTC"},
            },
            {
                "name": "enterprise",
                "when": {"customer_plans": ["enterprise", "gold"]},
                "targets": {"urgent": targets(600, 7200), "high": targets(1200, 14400)},
            },
        ],
        "warning_thresholds": [90, 50, 75],
        "pause_statuses": ["pending", "resolved"],
        "auto_close_after_seconds": 4 * 86400,
    }


def test_document_round_trip_through_the_policy() -> None:
    document = parse_policy_document(full_document())
    policy = document.to_policy()
    assert policy.warning_percents == (50, 75, 90)
    assert policy.pause_statuses == {"pending", "resolved"}
    assert policy.auto_close_after == timedelta(days=4)
    assert policy.calendar.yearly_holidays == {YearlyHoliday(12, 25), YearlyHoliday(1, 1)}
    assert policy.calendar.holidays == {date(2026, 12, 24)}
    assert policy.calendar.weekly_hours == {
        0: ((480, 720), (780, 1020)),
        1: ((480, 1020),),
        5: ((600, 1440),),
    }
    assert policy.type_calendars["outage_report"].is_24x7
    assert "billing_issue" not in policy.type_overrides
    assert SlaPolicyDocument.from_policy(policy) == document
    stored = json.loads(json.dumps(policy_to_dict(policy)))
    assert policy_from_dict(stored) == policy
    assert parse_policy_document(json.dumps(stored)) == document


def test_document_defaults() -> None:
    minimal = {"targets": {p: targets(60, 600) for p in PRIORITIES}}
    document = parse_policy_document(minimal)
    policy = document.to_policy()
    assert policy.calendar.is_24x7
    assert policy.warning_percents == (75,)
    assert policy.pause_statuses == {"pending", "resolved", "closed"}
    assert policy.auto_close_after is None
    assert policy.rules == ()
    assert policy.targets["low"] == SlaTargets(timedelta(seconds=60), timedelta(seconds=600))


@pytest.mark.parametrize("policy", [DEFAULT_POLICY, demo_policy(), demo_policy(7)])
def test_built_in_policies_survive_the_document(policy: SlaPolicy) -> None:
    assert policy_from_dict(json.loads(json.dumps(policy_to_dict(policy)))) == policy


LEGACY = {
    "targets": {
        "low": {"first_response": 86400, "resolution": 432000},
        "normal": {"first_response": 28800, "resolution": 259200},
        "high": {"first_response": 14400, "resolution": 86400},
        "urgent": {"first_response": 3600, "resolution": 14400},
    },
    "type_overrides": {"outage_report": {"first_response": 3600, "resolution": 14400}},
    "calendar": {
        "timezone": "Europe/Berlin",
        "weekly_hours": {str(d): [[540, 1020]] for d in range(5)},
        "holidays": ["2026-12-25"],
    },
    "type_calendars": {"outage_report": None},
    "warning_ratio": 0.8,
}


def test_policies_stored_before_the_document_still_load() -> None:
    policy = policy_from_dict(LEGACY)
    assert policy.targets_for("urgent", "general_inquiry") == SlaTargets(H, 4 * H)
    assert policy.calendar == BusinessCalendar.office_hours(
        "Europe/Berlin", holidays=[date(2026, 12, 25)]
    )
    assert policy.type_calendars["outage_report"].is_24x7
    assert policy.warning_percents == (80,)
    # Once loaded it is saved as the document, and that loads to the same policy.
    assert "version" in policy_to_dict(policy)
    assert policy_from_dict(policy_to_dict(policy)) == policy


def _set(data: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    node: Any = data
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("targets.urgent.first_response_seconds", -5, "targets.urgent.first_response_seconds"),
        ("targets.urgent.first_response_seconds", "1h", "targets.urgent.first_response_seconds"),
        ("targets.high.next_reply_seconds", 0, "targets.high.next_reply_seconds"),
        ("targets.low.colour", "red", "targets.low.colour"),
        ("calendar.timezone", "Mars/Olympus", "calendar.timezone"),
        ("calendar.hours.mon", [{"start": "17:00", "end": "09:00"}], "calendar.hours.mon[0]"),
        ("calendar.hours.mon", [{"start": "9:00", "end": "17:00"}], "calendar.hours.mon[0].start"),
        ("calendar.hours.funday", [], "calendar.hours.funday"),
        ("calendar.holidays", ["2026-13-01"], "calendar.holidays[0]"),
        ("calendar.yearly_holidays", ["02-30"], "calendar.yearly_holidays"),
        ("type_overrides.bogus_type", {"targets": targets(1, 2)}, "type_overrides.bogus_type"),
        ("type_overrides.outage_report", {}, "type_overrides.outage_report"),
        ("rules.1.when.channels", ["pigeon"], "rules[1].when.channels[0]"),
        ("rules.0.targets", {}, "rules[0].targets"),
        ("rules.0.targets", {"critical": targets(1, 2)}, "rules[0].targets.critical"),
        ("warning_thresholds", [50, 50], "warning_thresholds"),
        ("warning_thresholds", [0], "warning_thresholds[0]"),
        ("warning_thresholds", [101], "warning_thresholds[0]"),
        ("pause_statuses", ["resolved"], "pause_statuses"),
        ("pause_statuses", ["open"], "pause_statuses[0]"),
        ("auto_close_after_seconds", 0, "auto_close_after_seconds"),
        ("version", 2, "version"),
    ],
)
def test_errors_name_the_json_path(path: str, value: object, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_policy_document(_set(full_document(), path, value))
    assert caught.value.field == field


def test_missing_priority_and_non_object_name_their_path() -> None:
    document = full_document()
    del document["targets"]["low"]
    with pytest.raises(InvalidInput) as caught:
        parse_policy_document(document)
    assert caught.value.field == "targets.low"
    with pytest.raises(InvalidInput) as caught:
        parse_policy_document("[1, 2]")
    assert caught.value.field == "policy"


def test_policy_with_a_type_the_document_cannot_name_is_refused() -> None:
    policy = SlaPolicy(
        targets=DEFAULT_POLICY.targets, type_overrides={"incident": SlaTargets(H, H)}
    )
    with pytest.raises(InvalidInput) as caught:
        policy_to_dict(policy)
    assert caught.value.field == "type_overrides.incident"


def test_committed_schema_is_up_to_date() -> None:
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == policy_json_schema(), (
        "regenerate: python -c 'import json; from ticketing.sla import policy_json_schema; "
        "print(json.dumps(policy_json_schema(), indent=2, sort_keys=True))' "
        "> ticketing/sla/sla-policy.schema.json"
    )
    assert committed["$id"].endswith("sla-policy.schema.json")
    assert committed["required"] == ["targets"]


def test_first_matching_rule_wins_then_type_then_priority() -> None:
    policy = parse_policy_document(full_document()).to_policy()
    chat = Channel.CHAT.value
    outage = TicketType.OUTAGE_REPORT.value
    general = TicketType.GENERAL_INQUIRY.value
    s = timedelta(seconds=1)
    assert policy.targets_for("urgent", outage, "enterprise", chat).first_response == 300 * s
    assert policy.targets_for("urgent", outage, "enterprise", "email").first_response == 600 * s
    assert policy.targets_for("urgent", outage, "gold", chat).first_response == 600 * s
    # The first rule has no "high" targets: it does not match a high ticket, the second does.
    assert policy.targets_for("high", general, "enterprise", chat).first_response == 1200 * s
    # No rule for "normal": the type override wins over the priority.
    assert policy.targets_for("normal", outage, "enterprise", chat).first_response == 900 * s
    assert policy.targets_for("normal", general, "enterprise", chat).first_response == 8 * H
    assert policy.targets_for("urgent", general, None, None).first_response == H
    assert policy.calendar_for(general, "urgent", "enterprise", chat).is_24x7
    assert policy.calendar_for(general, "urgent", "gold", chat) == policy.calendar
    assert policy.calendar_for(outage).is_24x7


def test_rule_conditions_on_ticket_type() -> None:
    rule = SlaRule(
        name="installs",
        targets={"normal": SlaTargets(2 * H, 48 * H)},
        ticket_types=frozenset({"installation_request"}),
    )
    policy = SlaPolicy(targets=DEFAULT_POLICY.targets, rules=(rule,))
    assert policy.targets_for("normal", "installation_request").resolution == 48 * H
    assert policy.targets_for("normal", "billing_issue").resolution == 72 * H


seconds = st.integers(1, 30 * 86400)
target_docs = st.builds(lambda f, r, n: targets(f, r, n), seconds, seconds, st.none() | seconds)
clock = st.integers(0, 23).map(lambda h: f"{h:02d}:00")


@st.composite
def calendars(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {
        "timezone": draw(st.sampled_from(["UTC", "Europe/Berlin", "Asia/Tokyo"]))
    }
    if draw(st.booleans()):
        start = draw(st.integers(0, 22))
        end = draw(st.integers(start + 1, 24))
        days = draw(
            st.sets(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), min_size=1)
        )
        data["hours"] = {d: [{"start": f"{start:02d}:00", "end": f"{end:02d}:00"}] for d in days}
    data["holidays"] = sorted(
        d.isoformat()
        for d in draw(st.sets(st.dates(date(2025, 1, 1), date(2030, 1, 1)), max_size=3))
    )
    data["yearly_holidays"] = sorted(
        f"{d.month:02d}-{d.day:02d}"
        for d in draw(st.sets(st.dates(date(2000, 1, 1), date(2000, 12, 31)), max_size=3))
    )
    return data


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    types = [t.value for t in TicketType]
    data: dict[str, Any] = {
        "calendar": draw(calendars()),
        "targets": {p: draw(target_docs) for p in PRIORITIES},
        "warning_thresholds": sorted(draw(st.sets(st.integers(1, 100), max_size=4))),
        "pause_statuses": ["pending", *draw(st.sets(st.sampled_from(["resolved", "closed"])))],
        "auto_close_after_seconds": draw(st.none() | seconds),
    }
    overrides = {}
    for slug in draw(st.sets(st.sampled_from(types), max_size=3)):
        override: dict[str, Any] = {"targets": draw(target_docs)}
        if draw(st.booleans()):
            override["calendar"] = draw(calendars())
        overrides[slug] = override
    data["type_overrides"] = overrides
    data["rules"] = [
        {
            "name": f"rule {i}",
            "when": {
                "ticket_types": sorted(draw(st.sets(st.sampled_from(types), max_size=2))),
                "customer_plans": sorted(draw(st.sets(st.sampled_from(["gold", "basic"])))),
                "channels": sorted(draw(st.sets(st.sampled_from([c.value for c in Channel])))),
            },
            "targets": {
                p: draw(target_docs) for p in draw(st.sets(st.sampled_from(PRIORITIES), min_size=1))
            },
        }
        for i in range(draw(st.integers(0, 3)))
    ]
    return data


@settings(max_examples=100, deadline=None)
@given(documents())
def test_any_valid_document_round_trips(data: dict[str, Any]) -> None:
    document = parse_policy_document(data)
    policy = document.to_policy()
    assert SlaPolicyDocument.from_policy(policy) == document
    assert policy_from_dict(json.loads(json.dumps(policy_to_dict(policy)))) == policy


def test_document_is_canonical() -> None:
    document = full_document()
    document["calendar"]["hours"] = {
        "wed": [{"start": "13:00", "end": "17:00"}, {"start": "08:00", "end": "13:00"}],
        "mon": [{"start": "09:00", "end": "12:00"}, {"start": "10:00", "end": "11:00"}],
        "sun": [],
    }
    document["calendar"]["holidays"] = ["2026-12-31", "2026-12-24", "2026-12-31"]
    document["rules"][1]["when"]["customer_plans"] = ["gold", "enterprise", "gold"]
    parsed = parse_policy_document(document)
    assert parsed.model_dump(mode="json")["calendar"]["hours"] == {
        "mon": [{"start": "09:00", "end": "12:00"}],
        "wed": [{"start": "08:00", "end": "17:00"}],
    }
    assert parsed.calendar.holidays == [date(2026, 12, 24), date(2026, 12, 31)]
    assert parsed.rules[1].when.customer_plans == ["enterprise", "gold"]
    assert SlaPolicyDocument.from_policy(parsed.to_policy()) == parsed
