"""Benchmark 2: the product's workflow paths against a trivial workflow on the same worker.

Run: python -m bench.workflow_path [--seconds 15] [--concurrency 50]

One dev server, one bench worker process (product workflows + baselines, product worker
options), one run. Each variant runs closed-loop with `concurrency` in flight for `seconds`:
  trivial       BenchTrivialWorkflow: one no-op regular activity (THE baseline)
  empty         no activity (context)
  local         one no-op local activity (context; the product's create path is local)
  onboarding    OnboardingWorkflow start -> result (also starts the ticket's EscalationWorkflow)
  installation  InstallationWorkflow start -> ticket row visible in PostgreSQL (a 10 ms poller
                on the tickets table: the workflow itself keeps waiting for signals)
The trivial baseline runs first and last; the ratio uses their mean (drift is reported).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.common import Stack, machine, quiet_logging, summary, write_result
from ticketing.auth.principal import Principal
from ticketing.sla import BusinessCalendar, SlaPolicy, SlaTargets
from ticketing.temporal import names
from ticketing.temporal.schemas import InstallationInput, OnboardingInput
from ticketing.tenants.service import TenantService

TENANT = "bench"
LONG = SlaTargets(timedelta(days=30), timedelta(days=60))
# Watchers must not fire during the run: every priority gets 30/60-day targets.
LONG_POLICY = SlaPolicy(
    targets={p: LONG for p in ("low", "normal", "high", "urgent")},
    calendar=BusinessCalendar.always(),
)
GOAL = 0.8


async def closed_loop(
    seconds: float, concurrency: int, one: Callable[[], Awaitable[float]]
) -> tuple[float, list[float]]:
    """Completions per second and latencies of `one()` run back to back by `concurrency` tasks.

    Operations still in flight at the deadline are awaited but not counted.
    """
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []

    async def loop() -> None:
        while time.perf_counter() < deadline:
            latency = await one()
            if time.perf_counter() <= deadline:
                latencies.append(latency)

    start = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return len(latencies) / min(seconds, time.perf_counter() - start), latencies


class TicketWatcher:
    """Resolves a future when the ticket with a given idempotency key is committed."""

    def __init__(self, stack: Stack, interval: float = 0.01) -> None:
        self.stack = stack
        self.interval = interval
        self.pending: dict[str, asyncio.Future[float]] = {}
        self.created_lag: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def expect(self, key: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.pending[key] = future
        return future

    async def _run(self) -> None:
        assert self.stack.engine is not None
        query = text("SELECT idempotency_key, created_at FROM tickets "
                     "WHERE idempotency_key = ANY(:keys)")
        async with self.stack.engine.connect() as connection:
            while True:
                if self.pending:
                    rows = (await connection.execute(query, {"keys": list(self.pending)})).all()
                    await connection.commit()
                    seen = time.time()
                    for key, created_at in rows:
                        future = self.pending.pop(key, None)
                        if future is not None and not future.done():
                            future.set_result(seen)
                            self.created_lag.append(seen - created_at.timestamp())
                await asyncio.sleep(self.interval)

    def __enter__(self) -> TicketWatcher:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


async def bench(seconds: float, concurrency: int, warmup: float,
                only: list[str] | None = None, profile: str | None = None) -> dict[str, Any]:
    env = {"BENCH_PROFILE": str(Path(profile).resolve())} if profile else {}
    async with Stack(worker_env=env) as stack:
        assert stack.client is not None and stack.sessions is not None
        client, queue = stack.client, stack.task_queue
        async with stack.sessions() as session, session.begin():
            tenants = TenantService(session, Principal.platform())
            await tenants.register_tenant(TENANT, sla_policy=LONG_POLICY)
        customers = iter(range(1_000_000, 10_000_000))
        run_id = uuid.uuid4().hex[:6]

        def baseline(name: str) -> Callable[[], Awaitable[float]]:
            async def one() -> float:
                start = time.perf_counter()
                await client.execute_workflow(name, "x", id=f"{name}-{uuid.uuid4().hex}",
                                              task_queue=queue)
                return time.perf_counter() - start
            return one

        async def onboarding() -> float:
            customer = next(customers)
            start = time.perf_counter()
            await client.execute_workflow(
                names.ONBOARDING_WORKFLOW,
                OnboardingInput(tenant_id=TENANT, customer_id=str(customer),
                                customer_email=f"c{customer}@example.com"),
                id=f"onboarding-{run_id}-{customer}", task_queue=queue,
            )
            return time.perf_counter() - start

        watcher = TicketWatcher(stack)

        async def installation() -> float:
            customer = next(customers)
            workflow_id = f"installation-{run_id}-{customer}"
            seen = watcher.expect(f"installation:{workflow_id}")
            start = time.time()
            await client.start_workflow(
                names.INSTALLATION_WORKFLOW,
                InstallationInput(tenant_id=TENANT, customer_id=str(customer),
                                  service_address=f"{customer} Main St"),
                id=workflow_id, task_queue=queue,
            )
            return await seen - start

        server, worker = stack.server_meter(), stack.worker_meter()
        variants: list[tuple[str, Callable[[], Awaitable[float]]]] = [
            ("trivial", baseline("BenchTrivialWorkflow")),
            ("empty", baseline("BenchEmptyWorkflow")),
            ("local", baseline("BenchLocalTrivialWorkflow")),
            ("onboarding", onboarding),
            ("installation", installation),
            ("trivial_again", baseline("BenchTrivialWorkflow")),
        ]
        if only:
            variants = [v for v in variants if v[0] in only]
        rows: list[dict[str, Any]] = []
        with watcher:
            # Warm up each path once (sandbox imports, connection pools, sticky caches).
            for _, one in variants[:5]:
                await closed_loop(warmup, min(concurrency, 10), one)
            for name, one in variants:
                cpu0 = server.cpu_seconds(), worker.cpu_seconds()
                rate, latencies = await closed_loop(seconds, concurrency, one)
                done = max(len(latencies), 1)
                rows.append({
                    "variant": name, "per_s": rate, "latency_s": summary(latencies),
                    "server_cpu_ms_per_op": (server.cpu_seconds() - cpu0[0]) / done * 1000,
                    "worker_cpu_ms_per_op": (worker.cpu_seconds() - cpu0[1]) / done * 1000,
                })
                print(f"  {name:<13} {rate:7.1f}/s  p50 {rows[-1]['latency_s']['p50']:.3f}s",
                      flush=True)
        by = {row["variant"]: row for row in rows}
        if only:
            return {"benchmark": "workflow_path", "partial": True, "rows": rows}
        base = (by["trivial"]["per_s"] + by["trivial_again"]["per_s"]) / 2
        for row in rows:
            row["ratio_vs_trivial"] = row["per_s"] / base
        # Each onboarding/installation also starts the ticket's EscalationWorkflow.
        for name in ("onboarding", "installation"):
            by[name]["workflows_per_op"] = 2
            by[name]["ratio_counting_workflows"] = 2 * by[name]["per_s"] / base
        by["installation"]["db_created_at_to_seen_s"] = summary(watcher.created_lag)
        return {
            "benchmark": "workflow_path", "seconds_per_variant": seconds,
            "concurrency": concurrency, "goal_ratio": GOAL, "baseline_per_s": base,
            "baseline_drift": by["trivial_again"]["per_s"] / by["trivial"]["per_s"],
            "installation_end": "ticket row visible in PostgreSQL (10 ms poller)",
            "machine": machine(stack.postgres_version), "rows": rows,
        }


def print_table(result: dict[str, Any]) -> None:
    print(f"machine: {result['machine']}")
    print(f"concurrency {result['concurrency']}, {result['seconds_per_variant']:.0f} s per "
          f"variant; baseline (trivial, mean of first and last) {result['baseline_per_s']:.1f}/s,"
          f" drift last/first {result['baseline_drift']:.2f}")
    print(f"{'variant':<13} {'per s':>7} {'ratio':>6} {'wf ratio':>8} {'p50 ms':>7} "
          f"{'p95 ms':>7} {'srv ms/op':>9} {'wkr ms/op':>9}")
    for row in result["rows"]:
        wf = row.get("ratio_counting_workflows")
        lat = row["latency_s"]
        print(f"{row['variant']:<13} {row['per_s']:>7.1f} {row['ratio_vs_trivial']:>6.2f} "
              f"{(f'{wf:.2f}' if wf else '-'):>8} {lat['p50'] * 1000:>7.0f} "
              f"{lat['p95'] * 1000:>7.0f} {row['server_cpu_ms_per_op']:>9.1f} "
              f"{row['worker_cpu_ms_per_op']:>9.1f}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--only", default="", help="comma-separated variants (no ratio, no file)")
    parser.add_argument("--profile", default=None,
                        help="write a sampled Python profile of the worker to this file")
    args = parser.parse_args(argv)
    quiet_logging()
    only = [v for v in args.only.split(",") if v]
    result = asyncio.run(bench(args.seconds, args.concurrency, args.warmup, only, args.profile))
    if only:
        for row in result["rows"]:
            print(f"{row['variant']:<13} {row['per_s']:7.1f}/s  srv "
                  f"{row['server_cpu_ms_per_op']:.1f} ms/op  wkr {row['worker_cpu_ms_per_op']:.1f}"
                  " ms/op")
        return result
    print_table(result)
    write_result("workflow_path", result)
    return result


if __name__ == "__main__":
    main()
