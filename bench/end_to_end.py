"""End to end: what a whole ticket costs, from the HTTP create to its watcher running and its
created notice accepted by the SMTP server.

Run: python -m bench.end_to_end [--seconds 120] [--concurrency 32] [--latency-seconds 10]

One stack (embedded PostgreSQL, the tuned dev server, the product's worker with the dispatcher
delivering to an aiosmtpd sink in this process) and, for each mode in turn, an API process
(`ticketing api`'s ports, one uvicorn worker) driven by wrk:
- `inline`: the watcher's start inside the request, as the API did before (the baseline);
- `deferred`: DeferredWatchers, the start right after the response (today's API).
Per mode: HTTP create latency at c=1 and how late each ticket's watcher started after its
commit (`start_time` of the workflow against the ticket's `created_at`); then creates at
`--concurrency` for `--seconds`, and the time until every ticket's watcher has armed (its
`sla_snapshot` activity done) and every created notice was accepted by the SMTP server. CPU
is summed over the dev server, the worker, the API and PostgreSQL over that whole window and
divided by the tickets: the sustained rate is tickets over the window.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from sqlalchemy import text

from bench.api import free_port, wait_until_serving, wrk_create
from bench.common import ROOT, ProcessMeter, Stack, machine, pct, quiet_logging, write_result
from ticketing.auth.apikeys import ApiKeyService
from ticketing.auth.models import KeyRole
from ticketing.auth.principal import Principal
from ticketing.teams.schemas import TeamCreate
from ticketing.teams.service import TeamService
from ticketing.temporal.names import escalation_workflow_id
from ticketing.tenants.service import TenantService
from ticketing.tickets.numbering import format_ticket_number

PLATFORM = Principal.platform(name="bench")
MODES = ("inline", "deferred")
# Goals of issue 27 for the deferred mode.
GOAL_CPU_MS = 20.0
GOAL_P50_MS = 5.0
GOAL_LAG_P99_S = 1.0
LAG_SAMPLE = 200


class CountingSink:
    """An SMTP server that accepts everything and counts the messages."""

    def __init__(self) -> None:
        self.accepted = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self._lock:
            self.accepted += 1
        return "250 queued"


def serve(url: str, port: int, target: str, queue: str, mode: str) -> None:
    """The API process: `ticketing api`'s ports against the stack, one uvicorn worker."""
    import uvicorn

    from ticketing.runtime.settings import Settings
    from ticketing.temporal.client import connect_client
    from ticketing.web.app import create_app
    from ticketing.web.serve import open_ports

    quiet_logging()
    settings = Settings(task_queue=queue)

    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[Any]:
        client = await connect_client(settings, target_host=target)
        async with open_ports(
            settings, client=client, database_url=url, defer_watchers=mode == "deferred"
        ) as ports:
            yield ports

    uvicorn.run(
        create_app(connect=connect),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )


async def seed(stack: Stack) -> str:
    assert stack.sessions is not None
    async with stack.sessions() as session, session.begin():
        tenants = TenantService(session, PLATFORM)
        await tenants.register_tenant("bench")
        await tenants.upsert_customer(
            tenant_id="bench", customer_id="1", email="customer@example.com"
        )
        await TeamService(session, PLATFORM).create_team(TeamCreate(name="support"), "bench")
        return (
            await ApiKeyService(session, PLATFORM).issue(
                KeyRole.TENANT_AGENT, tenant_id="bench", name="bench"
            )
        ).key


async def counts(stack: Stack, since: datetime) -> tuple[int, int]:
    """Tickets made since `since`, and notices of theirs not yet sent."""
    assert stack.sessions is not None
    async with stack.sessions() as session:
        row = (
            await session.execute(
                text(
                    "SELECT (SELECT count(*) FROM tickets WHERE created_at >= :since),"
                    " (SELECT count(*) FROM notifications WHERE created_at >= :since"
                    "  AND sent_at IS NULL AND status <> 'failed')"
                ),
                {"since": since},
            )
        ).one()
    return int(row[0]), int(row[1])


def armed(stack: Stack) -> int:
    return int(stack.worker_progress().get("completed", {}).get("sla_snapshot", 0))


async def watcher_lags(stack: Stack, since: datetime) -> list[float]:
    """Seconds from each sampled ticket's commit to its watcher's start."""
    assert stack.sessions is not None and stack.client is not None
    async with stack.sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT number, created_at FROM tickets WHERE created_at >= :since"
                    " ORDER BY random() LIMIT :n"
                ),
                {"since": since, "n": LAG_SAMPLE},
            )
        ).all()
    lags = []
    for number, created_at in rows:
        for _ in range(100):
            try:
                described = await stack.client.get_workflow_handle(
                    escalation_workflow_id(format_ticket_number(number))
                ).describe()
                lags.append((described.start_time - created_at).total_seconds())
                break
            except Exception:  # noqa: BLE001 - not started yet: ask again
                await asyncio.sleep(0.1)
    return lags


async def db_now(stack: Stack) -> datetime:
    assert stack.sessions is not None
    async with stack.sessions() as session:
        return (await session.execute(text("SELECT clock_timestamp()"))).scalar_one()


async def drain(stack: Stack, since: datetime, armed_before: int, limit: float) -> float:
    """Seconds until every ticket since `since` is armed and its notices sent."""
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        made, unsent = await counts(stack, since)
        if unsent == 0 and armed(stack) - armed_before >= made:
            return time.perf_counter() - start
        await asyncio.sleep(0.2)
    raise RuntimeError(f"not drained within {limit:.0f} s")


async def run_mode(
    stack: Stack, key: str, mode: str, args: argparse.Namespace, sink: CountingSink
) -> dict[str, Any]:
    assert stack.server is not None
    port = free_port()
    api = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.end_to_end",
            "--serve",
            mode,
            "--database-url",
            stack.database_url,
            "--port",
            str(port),
            "--target",
            stack.server.target_host,
            "--queue",
            stack.task_queue,
        ],
        cwd=ROOT,
        env={**os.environ},
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await wait_until_serving(client, api)
        await wrk_create(port, key, 2, 4)  # warm up
        await drain(stack, await db_now(stack), 0, 600)
        since = await db_now(stack)
        latency = await wrk_create(port, key, args.latency_seconds, 1)
        lags = await watcher_lags(stack, since)
        await drain(stack, since, 0, 600)

        meters = {**stack.meters(), "api": ProcessMeter(api.pid)}
        meters.pop("driver")
        since, armed_before, sent_before = await db_now(stack), armed(stack), sink.accepted
        activities_before = dict(stack.worker_progress().get("completed", {}))
        cpu_before = {name: meter.cpu_seconds() for name, meter in meters.items()}
        started = time.perf_counter()
        load = await wrk_create(port, key, args.seconds, args.concurrency)
        load_s = time.perf_counter() - started
        tail_s = await drain(stack, since, armed_before, 900)
        window = time.perf_counter() - started
        cpu = {name: meter.cpu_seconds() - cpu_before[name] for name, meter in meters.items()}
        tickets, _ = await counts(stack, since)
        activities_after = dict(stack.worker_progress().get("completed", {}))
    finally:
        api.terminate()
        api.wait(30)
    return {
        "mode": mode,
        "c1_http_p50_ms": latency["p50_us"] / 1000,
        "c1_http_p99_ms": latency["p99_us"] / 1000,
        "watcher_lag_s": {
            "n": len(lags),
            "p50": pct(lags, 50),
            "p99": pct(lags, 99),
            "max": max(lags) if lags else None,
        },
        "load": {
            "concurrency": args.concurrency,
            "seconds": load_s,
            "tickets": tickets,
            "http_per_s": load["requests"] / (load["duration_us"] / 1e6),
            "http_p50_ms": load["p50_us"] / 1000,
            "http_p99_ms": load["p99_us"] / 1000,
        },
        "tail_s": tail_s,
        "window_s": window,
        "end_to_end_per_s": tickets / window,
        "mails_accepted": sink.accepted - sent_before,
        "cpu_ms_per_ticket": {name: 1000 * value / tickets for name, value in cpu.items()},
        "cpu_ms_per_ticket_total": 1000 * sum(cpu.values()) / tickets,
        # Which activities (local ones included) a ticket cost the worker, on average.
        "activities_per_ticket": {
            name: round((count - activities_before.get(name, 0)) / tickets, 3)
            for name, count in activities_after.items()
            if count > activities_before.get(name, 0)
        },
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    sink = CountingSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    env = {
        "TICKETING_SMTP_URL": f"smtp://127.0.0.1:{controller.port}",
        "TICKETING_DISPATCH_POLL_SECONDS": "1",
    }
    try:
        async with Stack(worker_env=env) as stack:
            key = await seed(stack)
            rows = [await run_mode(stack, key, mode, args, sink) for mode in args.order]
            rows.sort(key=lambda row: MODES.index(row["mode"]))
            postgres = stack.postgres_version
    finally:
        controller.stop()
    inline, deferred = rows
    return {
        "benchmark": "end_to_end",
        "machine": machine(postgres),
        "rows": rows,
        "ratios": {
            "end_to_end_rate": deferred["end_to_end_per_s"] / inline["end_to_end_per_s"],
            "cpu_per_ticket": deferred["cpu_ms_per_ticket_total"]
            / inline["cpu_ms_per_ticket_total"],
            "c1_http_p50": deferred["c1_http_p50_ms"] / inline["c1_http_p50_ms"],
        },
        "goals": {
            "cpu_ms_per_ticket": GOAL_CPU_MS,
            "c1_http_p50_ms": GOAL_P50_MS,
            "watcher_lag_p99_s": GOAL_LAG_P99_S,
        },
    }


def print_table(result: dict[str, Any]) -> None:
    print(f"machine: {result['machine']}")
    print("mode      c1 p50/p99 ms  lag p99 s  tickets  http/s  e2e/s  tail s  CPU ms/ticket")
    for r in result["rows"]:
        cpu = ", ".join(f"{k} {v:.1f}" for k, v in r["cpu_ms_per_ticket"].items())
        print(
            f"{r['mode']:<9} {r['c1_http_p50_ms']:>5.1f} / {r['c1_http_p99_ms']:<6.1f}"
            f" {r['watcher_lag_s']['p99'] or 0:>8.3f}  {r['load']['tickets']:>7}"
            f" {r['load']['http_per_s']:>7.0f} {r['end_to_end_per_s']:>6.1f}"
            f" {r['tail_s']:>6.1f}  {r['cpu_ms_per_ticket_total']:.1f} ({cpu})"
        )
    print(f"deferred/inline: {result['ratios']}; goals: {result['goals']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--order", type=lambda v: v.split(","), default=list(MODES),
                        help="modes in the order they run (default inline,deferred)")
    parser.add_argument("--serve", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--queue", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.database_url, args.port, args.target, args.queue, args.serve)
        return
    quiet_logging()
    result = asyncio.run(bench(args))
    write_result("end_to_end", result)
    print_table(result)


if __name__ == "__main__":
    main()
