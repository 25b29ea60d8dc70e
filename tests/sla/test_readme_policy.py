"""The README's SLA policy example is a valid document with everything it claims to show."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ticketing.sla import SlaClock, deadlines, parse_policy_document

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> dict[str, object]:
    text = README.read_text()
    block = text.split("<!-- sla-example -->", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    loaded: dict[str, object] = json.loads(block)
    return loaded


def test_readme_example_parses_and_shows_what_it_says() -> None:
    document = parse_policy_document(readme_example())
    calendar = document.calendar
    assert calendar.timezone == "Europe/Berlin"
    assert calendar.hours is not None and sorted(calendar.hours) == [
        "fri",
        "mon",
        "thu",
        "tue",
        "wed",
    ]
    assert all(r.start == "08:00" and r.end == "18:00" for d in calendar.hours.values() for r in d)
    assert len(calendar.yearly_holidays) == 2
    assert document.warning_thresholds == [50, 75, 90]
    assert document.targets.urgent is not None
    assert document.targets.urgent.next_reply_seconds is not None
    assert document.rules[0].when.customer_plans == ["enterprise"]
    assert document.rules[1].targets == {"low": None}


def test_readme_example_skips_the_yearly_holiday_and_matches_the_plan() -> None:
    policy = parse_policy_document(readme_example()).to_policy()
    # Thursday 24 December 2026, 17:00 in Berlin: one business hour left that day, then
    # Christmas and Boxing Day (a Saturday), Sunday, and Monday 28th from 08:00.
    created = datetime(2026, 12, 24, 16, 0, tzinfo=UTC)

    def first_response(plan: str | None) -> datetime | None:
        clock = SlaClock(
            priority="urgent",
            ticket_type="general_inquiry",
            created_at=created,
            resolution_started_at=created,
            first_response_at=None,
            pauses=(),
            done=False,
            customer_plan=plan,
        )
        return deadlines(policy, clock, created).first_response_due

    assert first_response(None) == created + timedelta(hours=1)
    assert first_response("enterprise") == created + timedelta(minutes=15)
    free_low = SlaClock(
        priority="low",
        ticket_type="general_inquiry",
        created_at=created,
        resolution_started_at=created,
        first_response_at=None,
        pauses=(),
        done=False,
        customer_plan="free",
    )
    assert deadlines(policy, free_low, created).thresholds == ()
    monday_8am = datetime(2026, 12, 28, 7, 0, tzinfo=UTC)
    clock = SlaClock(
        priority="high",
        ticket_type="general_inquiry",
        created_at=created,
        resolution_started_at=created,
        first_response_at=None,
        pauses=(),
        done=False,
    )
    # High: 4 business hours, one on the 24th and three from Monday 08:00.
    assert deadlines(policy, clock, created).first_response_due == monday_8am + timedelta(hours=3)
