"""The chaos run, small: N=40 business requests (some as HTTP creates through `ticketing api
--workers 2`) and 12 mails (SMTP to `ticketing mail serve`, IMAP through the worker's poller),
with two `ticketing worker` processes, while one worker, the whole API, one uvicorn worker and
the mail intake are SIGKILLed, PostgreSQL is stopped and started, and the Temporal dev server is
restarted. Asserts correctness only, never timing.

The full run is `python -m chaos.run --n 500 --seed 1` (chaos/run.py).
"""

from __future__ import annotations

import os

import pytest

from chaos.run import ChaosConfig, print_report, run_chaos

pytestmark = pytest.mark.timeout(360)

FAULTS = {
    "worker_kill", "postgres_restart", "temporal_restart", "api_kill", "api_child_kill",
    "mail_kill",
}


async def test_chaos_run_survives_one_of_each_fault() -> None:
    config = ChaosConfig(
        n=40,
        seed=int(os.environ.get("TICKETING_CHAOS_SEED", "7")),
        time_limit=220.0,
        worker_kills=1,
        pg_restarts=1,
        temporal_restarts=1,
        api_kills=1,
        api_child_kills=1,
        mail_kills=1,
        http_ratio=0.25,
        mails=12,
        load_seconds=20.0,
        results_path=None,  # a fresh /tmp/chaos-* home, removed afterwards
    )

    report = await run_chaos(config)

    print_report(report)
    kinds = [event.kind for event in report.faults]
    assert FAULTS <= set(kinds), kinds
    assert report.stats["http_creates"] > 0 and report.stats["mails"] == 12
    failed = [f"{c.name}: {c.observed} {c.details[:5]}" for c in report.checks if not c.passed]
    assert report.checks and not failed, "\n".join(failed)
