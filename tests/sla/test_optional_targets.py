"""A priority (or a rule's priority) with null targets has no SLA: no due dates or thresholds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ticketing.core.errors import InvalidInput
from ticketing.sla import (
    PRIORITIES,
    SlaClock,
    SlaPolicyDocument,
    deadlines,
    next_threshold,
    parse_policy_document,
    policy_json_schema,
)
from ticketing.sla.stored import policy_from_dict, policy_to_dict

CREATED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def targets(first: int, resolution: int, next_reply: int | None = None) -> dict[str, Any]:
    return {
        "first_response_seconds": first,
        "next_reply_seconds": next_reply,
        "resolution_seconds": resolution,
    }


def document(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": 1,
        "targets": {p: targets(60, 600, 120) for p in PRIORITIES},
    }
    data["targets"]["low"] = None
    data.update(extra)
    return data


def clock(priority: str, ticket_type: str = "general_inquiry", **kw: Any) -> SlaClock:
    values: dict[str, Any] = {
        "priority": priority,
        "ticket_type": ticket_type,
        "created_at": CREATED,
        "resolution_started_at": CREATED,
        "first_response_at": None,
        "pauses": (),
        "done": False,
        "awaiting_reply_since": CREATED,
    }
    values.update(kw)
    return SlaClock(**values)


def test_null_priority_has_no_due_dates_or_thresholds() -> None:
    policy = parse_policy_document(document()).to_policy()
    assert policy.targets["low"] is None
    assert policy.targets_for("low", "general_inquiry") is None
    later = CREATED + timedelta(days=30)
    due = deadlines(policy, clock("low"), later)
    assert due.first_response_due is None
    assert due.resolution_due is None
    assert due.next_reply_due is None
    assert due.first_response_warning_at is None
    assert due.resolution_warning_at is None
    assert due.thresholds == ()
    assert next_threshold(due) is None
    normal = deadlines(policy, clock("normal"), later)
    assert normal.first_response_due == CREATED + timedelta(seconds=60)
    assert next_threshold(normal) is not None


def test_a_type_override_or_rule_still_gives_a_null_priority_targets() -> None:
    policy = parse_policy_document(
        document(type_overrides={"outage_report": {"targets": targets(30, 300)}})
    ).to_policy()
    due = deadlines(policy, clock("low", "outage_report"), CREATED)
    assert due.first_response_due == CREATED + timedelta(seconds=30)


def test_a_rule_may_take_the_sla_away_for_one_priority() -> None:
    rule = {"name": "free plan", "when": {"customer_plans": ["free"]}, "targets": {"high": None}}
    policy = parse_policy_document(document(rules=[rule])).to_policy()
    assert deadlines(policy, clock("high", customer_plan="free"), CREATED).thresholds == ()
    paid = deadlines(policy, clock("high", customer_plan="gold"), CREATED)
    assert paid.first_response_due == CREATED + timedelta(seconds=60)


def test_null_targets_survive_the_document_and_storage() -> None:
    rule = {"name": "free plan", "when": {"customer_plans": ["free"]}, "targets": {"high": None}}
    parsed = parse_policy_document(document(rules=[rule]))
    policy = parsed.to_policy()
    assert SlaPolicyDocument.from_policy(policy) == parsed
    stored = json.loads(json.dumps(policy_to_dict(policy)))
    assert stored["targets"]["low"] is None
    assert stored["rules"][0]["targets"] == {"high": None}
    assert policy_from_dict(stored) == policy


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (5, "targets.low"),
        ({}, "targets.low.first_response_seconds"),
        (
            {"first_response_seconds": 0, "resolution_seconds": 5},
            "targets.low.first_response_seconds",
        ),
    ],
)
def test_a_bad_priority_value_names_its_path(value: object, field: str) -> None:
    data = document()
    data["targets"]["low"] = value
    with pytest.raises(InvalidInput) as caught:
        parse_policy_document(data)
    assert caught.value.field == field


def test_a_left_out_priority_is_still_an_error() -> None:
    data = document()
    del data["targets"]["low"]
    with pytest.raises(InvalidInput) as caught:
        parse_policy_document(data)
    assert caught.value.field == "targets.low"


def test_the_schema_allows_null_targets() -> None:
    schema = policy_json_schema()
    defs: Any = schema["$defs"]
    low = defs["PriorityTargets"]["properties"]["low"]
    assert {"type": "null"} in low["anyOf"]
    assert defs["PriorityTargets"]["required"] == ["low", "normal", "high", "urgent"]
