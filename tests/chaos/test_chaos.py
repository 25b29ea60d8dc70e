"""The chaos run, small: N=40 business requests with one worker SIGKILL, one PostgreSQL stop/start
and one Temporal dev server restart while they run. Asserts correctness only, never timing.

The full run is `python -m chaos.run --n 500 --seed 1` (chaos/run.py).
"""

from __future__ import annotations

import os

import pytest

from chaos.run import ChaosConfig, print_report, run_chaos

pytestmark = pytest.mark.timeout(300)


async def test_chaos_run_survives_one_of_each_fault() -> None:
    config = ChaosConfig(
        n=40,
        seed=int(os.environ.get("TICKETING_CHAOS_SEED", "7")),
        time_limit=170.0,
        worker_kills=1,
        pg_restarts=1,
        temporal_restarts=1,
        load_seconds=15.0,
        results_path=None,  # a fresh /tmp/chaos-* home, removed afterwards
    )

    report = await run_chaos(config)

    print_report(report)
    kinds = [event.kind for event in report.faults]
    assert {"worker_kill", "postgres_restart", "temporal_restart"} <= set(kinds), kinds
    failed = [f"{c.name}: {c.observed} {c.details[:5]}" for c in report.checks if not c.passed]
    assert report.checks and not failed, "\n".join(failed)
