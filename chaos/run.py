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
from datetime import UTC, datetime
from pathlib import Path

from chaos.faults import FaultInjector
from chaos.http_load import HttpLoad
from chaos.load import Load
from chaos.mail_load import FlagSampler, MailLoad
from chaos.plan import (
    DEFAULT_RESULTS,
    ChaosConfig,
    Clock,
    Fault,
    Request,
    plan_faults,
    plan_requests,
)
from chaos.plan_mail import MailMessage, plan_mails
from chaos.processes import Customers, Stack
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
        self.stack = Stack(home, config, self.log_event)
        self.faults = FaultInjector(self.stack, self.clock, self.report.faults)
        self.requests: list[Request] = []
        self.mails: list[MailMessage] = []

    def log_event(self, kind: str, detail: str, downtime: float | None = None) -> None:
        event = FaultEvent(round(self.clock.since_t0(), 2), kind, detail, downtime)
        self.report.faults.append(event)

    async def run(self) -> ChaosReport:
        config = self.config
        self.requests = plan_requests(config, self.rng)
        self.mails = plan_mails(config, self.rng)
        faults = plan_faults(config, self.rng)
        await self.stack.start(self.customers())
        self.report.stats["setup_seconds"] = round(time.monotonic() - self.clock.started_at, 1)
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

    def customers(self) -> Customers:
        """The customers the HTTP creates name and the mail comes from, registered up front."""
        return [(r.tenant_id, r.customer_id, r.email) for r in self.requests
                if r.door == "http"] + [(m.tenant_id, m.customer_id, m.sender) for m in self.mails]

    async def _dump_stacks_after(self, seconds: float) -> None:
        """What every task awaits, printed once the run is about to be cut off: a hang
        is then diagnosed from the output rather than guessed at."""
        await asyncio.sleep(max(0.0, seconds))
        print("chaos: past the time limit; the stack of every task follows", file=sys.stderr)
        for task in asyncio.all_tasks():
            task.print_stack(limit=12, file=sys.stderr)

    async def _run(self, faults: list[Fault]) -> None:
        config, clock, stack = self.config, self.clock, self.stack
        assert stack.client is not None and stack.imap is not None
        async with HttpLoad(stack.api_url, stack.api_keys, self.rng) as http:
            load = Load(stack.client, self.requests, clock, self.rng, config.concurrency, http)
            mail = MailLoad(stack.mail_port, stack.imap, clock, self.rng)
            sampler = FlagSampler(stack.imap, stack.postgres.url)
            sampling = asyncio.Event()
            sampler_task = asyncio.create_task(sampler.run(sampling))
            try:
                await self._drive(faults, load, mail, sampler)
            finally:
                sampling.set()
                await sampler_task
        stats = self.report.stats
        stats.update(
            http_retries=dict(http.retries),
            mail_retries=dict(mail.retries),
            flag_samples=sampler.samples,
        )
        stats["total_seconds"] = round(time.monotonic() - clock.started_at, 2)

    async def _drive(
        self, faults: list[Fault], load: Load, mail: MailLoad, sampler: FlagSampler
    ) -> None:
        config, clock, stack = self.config, self.clock, self.stack
        reserve = max(60.0, config.time_limit * 0.2)  # for waiting and verifying
        clock.start_load()
        load_deadline = clock.deadline - reserve
        fault_task = asyncio.create_task(self.faults.inject(faults))
        try:
            await asyncio.wait_for(
                asyncio.gather(load.drive(load_deadline), mail.drive(self.mails, load_deadline)),
                max(1.0, load_deadline - time.monotonic()) + 30,
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
        # From here on no fault and no create of the load's: the reconciler pass the watcher
        # checks wait for begins after this.
        quiet_since = datetime.now(UTC)
        closed_at = await load.wait_all_closed(clock.deadline - reserve * 0.5)
        stats = self.report.stats
        stats.update(
            workflows_started=sum(r.started for r in self.requests if r.door == "workflow"),
            http_creates=sum(r.door == "http" for r in self.requests),
            mails=len(self.mails),
            mail_deliveries=sum(len(m.deliveries) for m in self.mails),
            business_requests=config.n,
            duplicate_onboardings=sum(r.duplicate_of is not None for r in self.requests),
            installations=sum(
                r.workflow_type == names.INSTALLATION_WORKFLOW for r in self.requests
            ),
            load_seconds=round(load_done, 2),
            all_closed_after_seconds=closed_at,
            tickets_per_second=round(config.n / closed_at, 2) if closed_at else None,
            rpc_retries=dict(load.retries),
            spawns={p.name: p.spawns for p in stack.processes},
            unexpected_exits={p.name: p.unexpected_exits for p in stack.processes
                              if p.unexpected_exits},
        )
        await Verifier(
            config, self.requests, self.mails, load, stack, self.faults.windows, self.report,
            sampler, quiet_since=quiet_since,
        ).verify()


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
    parser.add_argument("--workers", type=int, default=2, help="`ticketing worker` processes")
    parser.add_argument("--api-workers", type=int, default=2, help="`ticketing api --workers`")
    parser.add_argument("--http-ratio", type=float, default=0.15,
                        help="share of the requests made as HTTP creates")
    parser.add_argument("--api-kills", type=int, default=1,
                        help="SIGKILLs of the whole API (parent and uvicorn workers)")
    parser.add_argument("--api-child-kills", type=int, default=1,
                        help="SIGKILLs of one uvicorn worker process")
    parser.add_argument("--mails", type=int, default=None, help="new-ticket mails (N/10)")
    parser.add_argument("--imap-ratio", type=float, default=0.4,
                        help="share of the mails appended to IMAP rather than sent by SMTP")
    parser.add_argument("--mail-kills", type=int, default=1,
                        help="SIGKILLs of `ticketing mail serve`")
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
        workers=args.workers,
        api_workers=args.api_workers,
        http_ratio=args.http_ratio,
        api_kills=args.api_kills,
        api_child_kills=args.api_child_kills,
        mails=args.mails,
        imap_ratio=args.imap_ratio,
        mail_kills=args.mail_kills,
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
