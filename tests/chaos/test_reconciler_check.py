"""The chaos run's wait for a reconciler pass after the faults: which runs count, and the check
failing when none completed (chaos/verify/reconciler.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chaos.report import Check
from chaos.verify.reconciler import ReconcilerPass, check_reconciler_pass, scheduled_at

SINCE = datetime(2026, 12, 5, 0, 31, 7, 500_000, tzinfo=UTC)


def test_a_run_counts_from_the_time_the_schedule_gave_it_not_its_start() -> None:
    # A run continued-as-new starts later than its schedule tick but sweeps only the rest.
    started = SINCE + timedelta(seconds=30)
    assert scheduled_at("ticketing-reconciler-ticketing-2026-12-05T00:31:00Z", started) == (
        datetime(2026, 12, 5, 0, 31, tzinfo=UTC)
    )
    assert scheduled_at("reconcile-by-hand", started) == started


def test_the_check_fails_without_a_completed_pass_and_passes_with_one() -> None:
    checks: list[Check] = []

    def add(name: str, expected: str, observed: str, passed: bool, details: list[str]) -> None:
        checks.append(Check(name, expected, observed, passed, details))

    check_reconciler_pass(add, SINCE, None, 180.0)
    found = ReconcilerPass(
        "ticketing-reconciler-ticketing-2026-12-05T00:31:20Z",
        datetime(2026, 12, 5, 0, 31, 20, tzinfo=UTC),
        datetime(2026, 12, 5, 0, 31, 21, tzinfo=UTC),
    )
    check_reconciler_pass(add, SINCE, found, 14.0)

    assert [c.passed for c in checks] == [False, True]
    assert "none completed within 180 s" in checks[0].observed
    assert "00:31:20" in checks[1].observed
