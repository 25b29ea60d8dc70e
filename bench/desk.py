"""The agent desk's queue at 100,000 tickets against the same lists through the API, one run.

Run: python -m bench.desk [--tickets 100000] [--requests 200] [--database-url URL]

One tenant holds `--tickets` tickets (30 % unsolved, priorities and agents spread, one title word
in 1 % of them), bulk-inserted and analyzed. The app (API and desk on one uvicorn process, as
`ticketing api` serves them) runs on loopback; requests are sequential, each timed whole: the
desk's first page (unsolved, newest 50, the four counts, the agent list, rendered HTML), a filter
(priority urgent) and a search (a title word), and the API's list with the same filter or search
and limit 50 (JSON). Goal: every desk row at most 100 ms p95.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from bench.api import PLATFORM, free_port, wait_until_serving
from bench.common import ROOT, bench_database, machine, quiet_logging, summary, write_result
from ticketing.auth.apikeys import ApiKeyService
from ticketing.auth.models import KeyRole
from ticketing.db.engine import migrate_async
from ticketing.teams.signin import AgentLogins
from ticketing.tenants.service import TenantService

GOAL_P95_S = 0.100
PASSWORD = "bench-password-1"
SECRET = b"bench-desk-secret-0123456789-0123456789"
AGENTS = 10
WORD = "Zebracable"

# Tickets numbered 1..n: 30 % unsolved (open/in_progress/pending), the rest resolved or closed;
# priority and agent by number; WORD in the title of every hundredth.
_FILL = text(
    """
INSERT INTO tickets (id, number, tenant_id, customer_id, title, description, origin_type,
    target_type, priority, ticket_type, status, channel, assigned_to, affected_services,
    device_serial_numbers, context, metadata, resolution_window_start, sla_pauses,
    sla_breached, escalation_level, created_at, updated_at)
SELECT gen_random_uuid(), n, 'bench', ((n % 1000) + 1)::text,
    CASE WHEN n % 100 = 0 THEN 'Line down ' || :word ELSE 'Slow line ticket ' || n END,
    'Bench ticket', 'customer', 'tenant',
    (ARRAY['low','normal','normal','high','urgent'])[n % 5 + 1], 'general_inquiry',
    (ARRAY['open','in_progress','pending','resolved','resolved','closed','closed','closed',
           'closed','closed'])[n % 10 + 1], 'api',
    CASE WHEN n % 3 = 0 THEN 'agent' || (n % :agents) || '@bench.test' END,
    '[]', '[]', '{}', '{}', now() - make_interval(secs => :n - n), '[]', false, 1,
    now() - make_interval(secs => :n - n), now() - make_interval(secs => :n - n)
FROM generate_series(1, :n) AS n
"""
)


async def seed(url: str, tickets: int) -> str:
    """The tenant, its customers, agents with desk logins, the tickets; an API key."""
    await migrate_async(url)
    engine = create_async_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        tenants = TenantService(session, PLATFORM)
        await tenants.register_tenant("bench")
        for c in range(1, 1001):
            await tenants.upsert_customer(
                tenant_id="bench", customer_id=str(c), email=f"c{c}@bench.test"
            )
        logins = AgentLogins(session, PLATFORM)
        for a in range(AGENTS):
            await logins.add(f"agent{a}@bench.test", password=PASSWORD, tenant_id="bench")
        key = (
            await ApiKeyService(session, PLATFORM).issue(
                KeyRole.TENANT_AGENT, tenant_id="bench", name="bench"
            )
        ).key
    async with engine.begin() as connection:
        await connection.execute(_FILL, {"n": tickets, "word": WORD, "agents": AGENTS})
        await connection.execute(
            text("UPDATE ticket_counters SET value = :n WHERE name = 'ticket'"), {"n": tickets}
        )
    # As autovacuum leaves a running deployment: statistics, and a visibility map for the
    # counts' index-only scans.
    async with engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("VACUUM ANALYZE"))
    await engine.dispose()
    return key


def serve(url: str, port: int) -> None:
    """The API with the desk mounted, uvicorn on loopback (no Temporal: nothing is created)."""
    import uvicorn

    from bench.api import NoWatchers, QueuedNotices
    from ticketing.web.app import create_app
    from ticketing.web.deps import ApiPorts
    from ticketing.web.desk import DeskConfig

    quiet_logging()
    engine = create_async_engine(url, pool_size=10, max_overflow=0)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    ports = ApiPorts(sessions=sessions, watchers=NoWatchers(), notices=QueuedNotices())
    app = create_app(ports, desk=DeskConfig(secret=SECRET))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def timed(client: httpx.AsyncClient, path: str, requests: int, **kw: Any) -> dict[str, Any]:
    latencies = []
    for _ in range(requests):
        started = time.perf_counter()
        response = await client.get(path, **kw)
        latencies.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
    return summary(latencies)


async def bench(url: str, tickets: int, requests: int) -> dict[str, Any]:
    key = await seed(url, tickets)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.desk", "--serve", "--database-url", url, "--port",
         str(port)], cwd=ROOT)
    rows = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await wait_until_serving(client, server)
            login = await client.get("/desk/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
            assert csrf
            signed = await client.post(
                "/desk/login",
                data={"csrf": csrf.group(1), "email": "agent0@bench.test", "password": PASSWORD},
            )
            assert signed.status_code == 303, signed.text
            auth = {"Authorization": f"Bearer {key}"}
            cases = [
                ("first page", "/desk", "/api/v1/tickets?limit=50"),
                ("filter: priority urgent", "/desk?priority=urgent",
                 "/api/v1/tickets?priority=urgent&limit=50"),
                ("search: a title word in 1 %", f"/desk?q={WORD}",
                 f"/api/v1/tickets?q={WORD}&limit=50"),
            ]
            for name, desk_path, api_path in cases:
                await timed(client, desk_path, 10)  # warm up both
                await timed(client, api_path, 10, headers=auth)
                desk = await timed(client, desk_path, requests)
                api = await timed(client, api_path, requests, headers=auth)
                rows.append({"case": name, "desk_s": desk, "api_s": api,
                             "ok": desk["p95"] <= GOAL_P95_S})
    finally:
        server.terminate()
        server.wait(30)
    return {"benchmark": "desk", "tickets": tickets, "requests": requests,
            "goal_p95_s": GOAL_P95_S, "machine": machine(), "rows": rows}


def print_table(result: dict[str, Any]) -> None:
    print(f"machine: {result['machine']}")
    print(f"{result['tickets']} tickets, {result['requests']} sequential requests per row")
    print("  case                          desk p50/p95 ms     API p50/p95 ms")
    for row in result["rows"]:
        d, a = row["desk_s"], row["api_s"]
        print(f"  {row['case']:<28} {d['p50'] * 1000:>7.1f} / {d['p95'] * 1000:<7.1f}"
              f"  {a['p50'] * 1000:>7.1f} / {a['p95'] * 1000:<7.1f}"
              f"  {'ok' if row['ok'] else 'OVER GOAL'}")
    print(f"goal: desk p95 <= {result['goal_p95_s'] * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", default=os.environ.get("TICKETING_BENCH_DATABASE_URL"))
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.database_url, args.port)
        return
    quiet_logging()
    with bench_database(args.database_url) as url:
        result = asyncio.run(bench(url, args.tickets, args.requests))
    write_result("desk", result)
    print_table(result)


if __name__ == "__main__":
    main()
