"""Chaos run: start N onboardings and installations against the embedded stack while the worker
is SIGKILLed, PostgreSQL is stopped and the Temporal dev server is restarted; then verify.

    python -m chaos.run --n 500 --seed 1 [--home DIR] [--time-limit 900]

Everything runs under one home directory of its own (a pgserver datadir, a dev server persisting
to `temporal.db`, worker logs). Notifications go to an SMTP sink inside this process, so "sent
twice" is observed at the receiving end, not inferred from the outbox. The checks, the fault log
and the throughput are printed as tables and written to `chaos/results/last.json`; the exit code
is non-zero when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from chaos.faults import FaultInjector
from chaos.load import Load
from chaos.plan import (
    DEFAULT_RESULTS,
    ChaosConfig,
    Clock,
    Fault,
    Request,
    plan_faults,
    plan_requests,
)
from chaos.processes import Stack
from chaos.report import ChaosReport, Check, FaultEvent, config_json, print_report, write_json
from chaos.verify.verifier import Verifier
from ticketing.temporal import names

# Past --time-limit, the run is cut off (and fails) after this much more.
OVERRUN_SECONDS = 120.0


# -- the run --------------------------------------------------------------------------------


class ChaosRun:
    def __init__(self, config: ChaosConfig, home: Path) -> None:
        self.config = config
        self.home = home
        self.rng = random.Random(config.seed)
        self.report = ChaosReport(config=config_json(config), home=str(home))
        self.clock = Clock(config.time_limit)
        self.stack = Stack(home, self.log_event)
        self.faults = FaultInjector(self.stack, self.clock, self.report.faults)
        self.requests: list[Request] = []

    def log_event(self, kind: str, detail: str, downtime: float | None = None) -> None:
        event = FaultEvent(round(self.clock.since_t0(), 2), kind, detail, downtime)
        self.report.faults.append(event)

    async def run(self) -> ChaosReport:
        config = self.config
        self.requests = plan_requests(config, self.rng)
        faults = plan_faults(config, self.rng)
        await self.stack.start()
        overrun = OVERRUN_SECONDS
        watchdog = asyncio.create_task(
            self._dump_stacks_after(self.clock.remaining() + overrun - 10)
        )
        try:
            await asyncio.wait_for(self._run(faults), max(1.0, self.clock.remaining()) + overrun)
        except TimeoutError:
            self.report.checks.append(Check(
                "the run ended within its time limit",
                f"verdict within --time-limit + {overrun:.0f} s",
                "still waiting; every task's stack was printed to stderr", False,
            ))
        finally:
            watchdog.cancel()
            await self.stack.stop()
        self.report.stats["sink_messages"] = len(self.stack.sink.messages)
        return self.report

    async def _dump_stacks_after(self, seconds: float) -> None:
        """What every task awaits, printed once the run is about to be cut off: a hang
        is then diagnosed from the output rather than guessed at."""
        await asyncio.sleep(max(0.0, seconds))
        print("chaos: past the time limit; the stack of every task follows", file=sys.stderr)
        for task in asyncio.all_tasks():
            task.print_stack(limit=12, file=sys.stderr)

    async def _run(self, faults: list[Fault]) -> None:
        config, clock, stack = self.config, self.clock, self.stack
        assert stack.client is not None and stack.worker is not None
        load = Load(stack.client, self.requests, clock, self.rng, config.concurrency)
        reserve = max(60.0, config.time_limit * 0.2)  # for waiting and verifying
        clock.start_load()
        load_deadline = clock.deadline - reserve
        fault_task = asyncio.create_task(self.faults.inject(faults))
        try:
            await asyncio.wait_for(
                load.drive(load_deadline), max(1.0, load_deadline - time.monotonic()) + 30
            )
        except TimeoutError:
            self.log_event("load_timeout", "requests still unanswered 30 s after the load deadline")
        load_done = clock.since_t0()
        try:
            await asyncio.wait_for(fault_task, max(1.0, clock.remaining() - reserve))
        except Exception as error:  # noqa: BLE001 - reported, then verified regardless
            self.log_event("fault_error", repr(error)[:300])
        # Whatever happened, everything is up again for the verification.
        await stack.all_up()
        closed_at = await load.wait_all_closed(clock.deadline - reserve * 0.5)
        stats = self.report.stats
        stats.update(
            workflows_started=sum(r.started for r in self.requests),
            business_requests=config.n,
            duplicate_onboardings=sum(r.duplicate_of is not None for r in self.requests),
            installations=sum(
                r.workflow_type == names.INSTALLATION_WORKFLOW for r in self.requests
            ),
            load_seconds=round(load_done, 2),
            all_closed_after_seconds=closed_at,
            tickets_per_second=round(config.n / closed_at, 2) if closed_at else None,
            rpc_retries=dict(load.retries),
            worker_spawns=stack.worker.spawns,
            worker_unexpected_exits=stack.worker.unexpected_exits,
        )
        await Verifier(
            config, self.requests, load, stack, self.faults.windows, self.report
        ).verify()
        stats["total_seconds"] = round(time.monotonic() - clock.started_at, 2)


# -- entry points -----------------------------------------------------------------------------


async def run_chaos(config: ChaosConfig) -> ChaosReport:
    """Run the whole scenario under `config.home` (or a fresh /tmp/chaos-*) and verify."""
    made_home = config.home is None
    # Short path: PostgreSQL's unix socket lives in the datadir (~107 characters at most).
    home = Path(tempfile.mkdtemp(prefix="chaos-", dir="/tmp")) if made_home else config.home
    assert home is not None
    home.mkdir(parents=True, exist_ok=True)
    run = ChaosRun(config, home.resolve())
    try:
        report = await run.run()
    finally:
        if made_home and not config.keep_home:
            shutil.rmtree(home, ignore_errors=True)
    if config.results_path is not None:
        write_json(report, config.results_path)
    return report


def parse_args(argv: list[str] | None = None) -> ChaosConfig:
    parser = argparse.ArgumentParser(prog="python -m chaos.run", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=500, help="business requests (tickets)")
    parser.add_argument("--seed", type=int, default=None, help="default: random, printed")
    parser.add_argument("--home", type=Path, default=None, help="default: fresh /tmp/chaos-*")
    parser.add_argument("--time-limit", type=float, default=900.0, help="seconds, whole run")
    parser.add_argument("--worker-kills", type=int, default=4)
    parser.add_argument("--pg-restarts", type=int, default=2)
    parser.add_argument("--temporal-restarts", type=int, default=2)
    parser.add_argument("--smtp-outages", type=int, default=1)
    parser.add_argument("--smtp-slowdowns", type=int, default=1)
    parser.add_argument("--refused-ratio", type=float, default=0.1,
                        help="share of customers whose address gets 550")
    parser.add_argument("--load-seconds", type=float, default=None,
                        help="window the starts are spread over (default N/6, at least 15)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--keep-home", action="store_true")
    args = parser.parse_args(argv)
    return ChaosConfig(
        n=args.n,
        seed=args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6),
        home=args.home,
        time_limit=args.time_limit,
        worker_kills=args.worker_kills,
        pg_restarts=args.pg_restarts,
        temporal_restarts=args.temporal_restarts,
        smtp_outages=args.smtp_outages,
        smtp_slowdowns=args.smtp_slowdowns,
        refused_ratio=args.refused_ratio,
        load_seconds=args.load_seconds,
        concurrency=args.concurrency,
        results_path=args.results,
        keep_home=args.keep_home,
    )


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    print(f"chaos run: n={config.n} seed={config.seed} time limit {config.time_limit:.0f}s",
          flush=True)
    report = asyncio.run(run_chaos(config))
    print_report(report)
    if config.results_path is not None:
        print(f"results: {config.results_path}")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
