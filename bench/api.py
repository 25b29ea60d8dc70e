"""HTTP create against the service create in the same run, at concurrency 1 and 32.

Run: python -m bench.api [--seconds 3] [--rounds 3] [--database-url URL]

The API runs as its own uvicorn process (one worker) on loopback, with no Temporal (no
watchers, notices left queued), so the figure is the channel's own cost: HTTP parsing, the
API key lookup, validation, the flow and the JSON answer, over the same create the service
benchmark runs. The HTTP load comes from wrk (Debian's `wrk`, a C load generator; one thread,
one keep-alive connection per concurrent client, a fresh Idempotency-Key per request so each
request creates a ticket): a Python HTTP client spends more CPU per request than the server,
and on two cores that CPU is taken from the server. Latency is per request, as wrk saw it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from bench.common import ROOT, bench_database, machine, quiet_logging, summary, write_result
from ticketing.auth.apikeys import ApiKeyService
from ticketing.auth.models import KeyRole
from ticketing.auth.principal import Principal
from ticketing.db.engine import migrate_async
from ticketing.runtime.heap import freeze_startup_heap
from ticketing.teams.schemas import TeamCreate
from ticketing.teams.service import TeamService
from ticketing.tenants.service import TenantService
from ticketing.tickets.service import TicketService

CONCURRENCY = (1, 32)
GOAL = 0.8
PLATFORM = Principal.platform(name="bench")
AGENT = Principal.tenant_agent("bench", name="bench")
BODY = {"title": "No internet", "description": "Router blinks red", "customer_id": 1,
        "assigned_team": "support"}


class NoWatchers:
    async def ensure(self, ticket: object) -> None:
        return None

    async def wake(self, ticket: object) -> None:
        return None


class QueuedNotices:
    async def hand_over(self, ticket_id: uuid.UUID) -> None:
        return None


def serve(url: str, port: int) -> None:
    """The API process: the app over the database alone, uvicorn on loopback."""
    import uvicorn

    from ticketing.web.app import create_app
    from ticketing.web.deps import ApiPorts

    quiet_logging()
    engine = create_async_engine(url, pool_size=40, max_overflow=0)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    app = create_app(ApiPorts(sessions=sessions, watchers=NoWatchers(), notices=QueuedNotices()))
    freeze_startup_heap()  # as `ticketing api` does once its ports are open
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def run_for(
    seconds: float, concurrency: int, one: Callable[[], Awaitable[None]]
) -> tuple[float, list[float]]:
    """Creates per second and each create's latency, `concurrency` loops for `seconds`."""
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def loop() -> None:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            await one()
            latencies.append(time.perf_counter() - started)

    start = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - start), latencies


WRK_SCRIPT = Path(__file__).parent / "wrk_create.lua"


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("bench.api needs wrk: apt-get install wrk (Debian's package)")
    return found


async def wrk_create(port: int, key: str, seconds: float, concurrency: int) -> dict[str, Any]:
    """wrk POSTing creates for `seconds` over `concurrency` connections; its JSON summary.
    Any answer other than 201, or any socket error, fails the run."""
    env = {**os.environ, "BENCH_KEY": key, "BENCH_BODY": json.dumps(BODY),
           "BENCH_RUN": uuid.uuid4().hex}
    process = await asyncio.create_subprocess_exec(
        wrk_binary(), "-t1", f"-c{concurrency}", f"-d{max(1, math.ceil(seconds))}s",
        "--timeout", "30s", "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({process.returncode}): {err.decode()[-500:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    failures = {name: result[name] for name in ("not_201", "connect_errors", "read_errors",
                                               "write_errors", "timeouts") if result[name]}
    if failures or not result["requests"]:
        raise RuntimeError(f"HTTP creates failed: {failures or 'no request answered'}")
    return result


async def wait_until_serving(client: httpx.AsyncClient, server: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise RuntimeError(f"the API process exited with {server.returncode}")
        try:
            if (await client.get("/openapi.json")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the API did not answer within 30 s")


async def analyze(engine: AsyncEngine) -> None:
    """Fresh planner statistics, as autovacuum keeps them in a running deployment. On a just
    migrated database the planner has none, and a create's idempotency lookup then scans the
    tenant's tickets: its cost grew with every ticket made (0.4 to 1.2 ms over 4,000)."""
    async with engine.connect() as connection:
        await connection.execute(text("ANALYZE"))
        await connection.commit()


async def bench(url: str, seconds: float, rounds: int) -> dict[str, Any]:
    await migrate_async(url)
    engine = create_async_engine(url, pool_size=40, max_overflow=0)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        tenants = TenantService(session, PLATFORM)
        await tenants.register_tenant("bench")
        await tenants.upsert_customer(tenant_id="bench", customer_id="1")
        # BODY names this team, and the HTTP create accepts only a team the tenant has.
        await TeamService(session, PLATFORM).create_team(TeamCreate(name="support"), "bench")
        key = (await ApiKeyService(session, PLATFORM).issue(
            KeyRole.TENANT_AGENT, tenant_id="bench", name="bench")).key
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.api", "--serve", "--database-url", url,
         "--port", str(port)], cwd=ROOT)
    rows = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await wait_until_serving(client, server)

        async def service_create() -> None:
            async with sessions() as session:
                service = TicketService(session, AGENT)
                await service.create_ticket_alone({**BODY, "idempotency_key": uuid.uuid4().hex})

        for concurrency in CONCURRENCY:
            await wrk_create(port, key, 1, concurrency)  # warm up both
            await run_for(min(1.0, seconds / 3), concurrency, service_create)
            await analyze(engine)
            # Rounds alternate service and HTTP, each round in the other order, so a slow
            # stretch of a noisy machine (or anything that grows with the tickets) hits both
            # sides alike; the row is the round with the median ratio.
            measured = []
            for round_ in range(rounds):
                if round_ % 2:
                    http = await wrk_create(port, key, seconds, concurrency)
                service_rate, service_lat = await run_for(seconds, concurrency, service_create)
                if not round_ % 2:
                    http = await wrk_create(port, key, seconds, concurrency)
                http_rate = http["requests"] / (http["duration_us"] / 1e6)
                measured.append((http_rate / service_rate, service_rate, service_lat,
                                 http_rate, http))
            measured.sort(key=lambda round_: round_[0])
            ratio, service_rate, service_lat, http_rate, http = measured[len(measured) // 2]
            rows.append({
                "concurrency": concurrency,
                "service_per_s": service_rate,
                "http_per_s": http_rate,
                "ratio": ratio,
                "round_ratios": [round(round_[0], 3) for round_ in measured],
                "service_latency_s": summary(service_lat),
                "http_latency_s": {
                    "n": http["requests"], "p50": http["p50_us"] / 1e6,
                    "p95": http["p95_us"] / 1e6, "p99": http["p99_us"] / 1e6,
                    "max": http["max_us"] / 1e6, "mean": http["mean_us"] / 1e6,
                },
            })
    finally:
        server.terminate()
        server.wait(30)
        await engine.dispose()
    return {"benchmark": "api", "seconds_per_point": seconds, "rounds": rounds, "goal_ratio": GOAL,
            "http_client": "wrk -t1 (bench/wrk_create.lua)", "machine": machine(), "rows": rows}


def print_table(result: dict[str, Any]) -> None:
    print(f"machine: {result['machine']}")
    print("  c  service/s  http/s  ratio  service p50/p99 ms   http p50/p99 ms")
    for row in result["rows"]:
        s, h = row["service_latency_s"], row["http_latency_s"]
        print(f"{row['concurrency']:>3} {row['service_per_s']:>10.0f} {row['http_per_s']:>7.0f}"
              f" {row['ratio']:>6.2f}  {s['p50'] * 1000:>7.1f} / {s['p99'] * 1000:<7.1f}"
              f"  {h['p50'] * 1000:>7.1f} / {h['p99'] * 1000:<7.1f}"
              f"  rounds {row['round_ratios']}")
    print(f"goal: http/service >= {result['goal_ratio']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3, help="alternating service/HTTP rounds")
    parser.add_argument("--database-url", default=os.environ.get("TICKETING_BENCH_DATABASE_URL"))
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.database_url, args.port)
        return
    quiet_logging()
    with bench_database(args.database_url) as url:
        result = asyncio.run(bench(url, args.seconds, max(1, args.rounds)))
    write_result("api", result)
    print_table(result)


if __name__ == "__main__":
    main()
