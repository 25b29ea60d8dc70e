"""Lists and search through the API at 1,000,000 tickets against the same requests at 10,000.

Run: python -m bench.scale [--tickets 1000000] [--small 10000] [--requests 100]
     [--database-url URL] [--small-database-url URL]

Two databases, each filled by bench.fill (50 tenants, the first holding a fifth of the
tickets): `--tickets` and `--small`. A database given by URL (the tables' owner's) that already
holds at least that many tickets is used as it is (fill once, measure often). The API runs once
per database, as `ticketing api` does: uvicorn on loopback, connected as a login role of
`ticketing_app` (row-level security applies, as in a deployment; the bench creates that role).
Requests are sequential and alternate between the two databases case by case, so both see the
same machine; each is timed whole (HTTP, JSON). The tenant asked about is the largest
(200,000 tickets of 1,000,000). Goal: p95 <= 50 ms at the large size and within 2x of the
same request at the small size.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import time
from contextlib import ExitStack
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from bench.common import ROOT, bench_database, machine, quiet_logging, summary, write_result
from bench.fill import _dsn, fill, sqlalchemy_url

GOAL_P95_S = 0.050
GOAL_RATIO = 2.0
TENANT = "isp-01"
APP_LOGIN = "ticketing_bench_app"


async def prepare(url: str, tickets: int) -> dict[str, Any]:
    """Migrate and fill (unless already filled); the app role's URL, an API key, and what
    the cases ask for (a number, an email of the tenant)."""
    from ticketing.auth.apikeys import ApiKeyService
    from ticketing.auth.models import KeyRole
    from ticketing.auth.principal import Principal
    from ticketing.db.engine import make_engine, make_sessionmaker, migrate_async

    await migrate_async(sqlalchemy_url(url))
    connection = await asyncpg.connect(_dsn(url))
    try:
        have = await connection.fetchval("SELECT count(*) FROM tickets")
        filled: dict[str, Any] = {"reused": have >= tickets, "had": have}
        if have < tickets:
            await connection.close()
            report = await fill(url, tickets=tickets - have, largest=(tickets - have) // 5)
            filled |= {"seconds": report.seconds, "tickets": report.tickets,
                       "messages": report.messages, "events": report.events}
            connection = await asyncpg.connect(_dsn(url))
        password = secrets.token_urlsafe(16)
        exists = await connection.fetchval(
            "SELECT 1 FROM pg_roles WHERE rolname = $1", APP_LOGIN)
        verb = "ALTER" if exists else "CREATE"
        await connection.execute(f"{verb} ROLE {APP_LOGIN} LOGIN PASSWORD '{password}'")
        await connection.execute(f"GRANT ticketing_app TO {APP_LOGIN}")
        sample = await connection.fetchrow(
            "SELECT t.number, c.email FROM tickets t JOIN customers c"
            " ON c.tenant_id = t.tenant_id AND c.id = t.customer_id"
            " WHERE t.tenant_id = $1 ORDER BY t.number LIMIT 1 OFFSET"
            " (SELECT count(*) / 2 FROM tickets WHERE tenant_id = $1)", TENANT)
        middle = await connection.fetchval(
            "SELECT number FROM tickets WHERE tenant_id = $1 ORDER BY number DESC"
            " LIMIT 1 OFFSET (SELECT count(*) / 2 FROM tickets WHERE tenant_id = $1)", TENANT)
    finally:
        await connection.close()
    app_url = make_url(sqlalchemy_url(url)).set(username=APP_LOGIN, password=password)
    engine = make_engine(url if "+asyncpg" in url else sqlalchemy_url(url))
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        from ticketing.db.rls import bind_system

        bind_system(session)
        key = (await ApiKeyService(session, Principal.platform(name="bench")).issue(
            KeyRole.TENANT_AGENT, tenant_id=TENANT, name="bench-scale")).key
    await engine.dispose()
    return {"app_url": app_url.render_as_string(hide_password=False), "key": key,
            "number": sample["number"], "email": sample["email"], "middle": middle,
            "fill": filled}


def cases(info: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, path) of each request; the same names on both sizes."""
    from ticketing.tickets.info import encode_cursor
    from ticketing.tickets.numbering import format_ticket_number

    email = info["email"]
    return [
        ("first page", ""),
        ("page at the middle (cursor)", f"cursor={encode_cursor(info['middle'])}"),
        ("status open", "status=open"),
        ("status pending", "status=pending"),
        ("priority urgent", "priority=urgent"),
        ("type network_issue", "ticket_type=network_issue"),
        ("assigned_to one agent", f"assigned_to=agent03%40{TENANT}.example"),
        ("assigned_team noc", "assigned_team=noc"),
        ("breached", "breached=true"),
        ("search: common word (internet)", "q=internet"),
        ("search: word in ~4% (rebooting)", "q=rebooting"),
        ("search: rare word (M\u00fchlenweg)", f"q={quote('Mühlenweg')}"),
        ("search: two words (fibre cut)", f"q={quote('fibre cut')}"),
        ("search: number", f"q={format_ticket_number(info['number'])}"),
        ("search: email", f"q={quote(email)}"),
        ("search: email prefix", f"q={quote(email.split('@')[0] + '@')}"),
    ]


def serve(url: str, port: int) -> None:
    """The API as `ticketing api` builds it (RLS-scoped sessions), no Temporal."""
    import uvicorn

    from bench.api import NoWatchers, QueuedNotices
    from ticketing.db.engine import make_engine, make_sessionmaker
    from ticketing.web.app import create_app
    from ticketing.web.deps import ApiPorts

    quiet_logging()
    sessions = make_sessionmaker(make_engine(url))
    app = create_app(ApiPorts(sessions=sessions, watchers=NoWatchers(), notices=QueuedNotices()))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def timed(client: httpx.AsyncClient, path: str, requests: int) -> dict[str, Any]:
    latencies = []
    for _ in range(requests):
        started = time.perf_counter()
        response = await client.get(path)
        latencies.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return summary(latencies)


async def measure(big: dict[str, Any], small: dict[str, Any], requests: int) -> list[dict]:
    from bench.api import free_port, wait_until_serving

    servers, clients = [], []
    try:
        for info in (big, small):
            port = free_port()
            servers.append(subprocess.Popen(
                [sys.executable, "-m", "bench.scale", "--serve", "--database-url",
                 info["app_url"], "--port", str(port)], cwd=ROOT))
            client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60,
                                       headers={"Authorization": f"Bearer {info['key']}"})
            clients.append(client)
            await wait_until_serving(client, servers[-1])
        rows = []
        for (name, big_query), (_, small_query) in zip(cases(big), cases(small), strict=True):
            paths = [f"/api/v1/tickets?limit=50&{q}".rstrip("&") for q in (big_query, small_query)]
            for client, path in zip(clients, paths, strict=True):
                await timed(client, path, 5)  # warm up
            large = await timed(clients[0], paths[0], requests)
            baseline = await timed(clients[1], paths[1], requests)
            ratio = large["p95"] / baseline["p95"]
            rows.append({"case": name, "large_s": large, "small_s": baseline, "ratio": ratio,
                         "ok": large["p95"] <= GOAL_P95_S and ratio <= GOAL_RATIO})
        return rows
    finally:
        for client in clients:
            await client.aclose()
        for server in servers:
            server.terminate()
            server.wait(30)


def print_table(result: dict[str, Any]) -> None:
    print(f"{result['tickets']:,} vs {result['small']:,} tickets, tenant {TENANT}, "
          f"{result['requests']} sequential requests per row; fill: {result['fill']}")
    print(f"  {'case':<34} {'large p50/p95 ms':>18} {'small p50/p95 ms':>18}  ratio")
    for row in result["rows"]:
        a, b = row["large_s"], row["small_s"]
        print(f"  {row['case']:<34} {a['p50'] * 1000:>8.1f} / {a['p95'] * 1000:<7.1f}"
              f" {b['p50'] * 1000:>8.1f} / {b['p95'] * 1000:<7.1f} {row['ratio']:5.2f}"
              f"  {'ok' if row['ok'] else 'OVER GOAL'}")
    print(f"goal: p95 <= {GOAL_P95_S * 1000:.0f} ms and <= {GOAL_RATIO}x the small size")


async def bench(big_url: str, small_url: str, tickets: int, small: int,
                requests: int) -> dict[str, Any]:
    started = time.perf_counter()
    big = await prepare(big_url, tickets)
    little = await prepare(small_url, small)
    prepared = time.perf_counter() - started
    rows = await measure(big, little, requests)
    return {"benchmark": "scale", "tickets": tickets, "small": small, "tenant": TENANT,
            "requests": requests, "goal_p95_s": GOAL_P95_S, "goal_ratio": GOAL_RATIO,
            "fill": {"large": big["fill"], "small": little["fill"],
                     "prepare_seconds": prepared},
            "machine": machine(), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--database-url",
                        default=os.environ.get("TICKETING_BENCH_SCALE_DATABASE_URL"))
    parser.add_argument("--small-database-url", default=None)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.database_url, args.port)
        return
    quiet_logging()
    with ExitStack() as stack:
        big = stack.enter_context(bench_database(args.database_url))
        little = stack.enter_context(bench_database(args.small_database_url))
        result = asyncio.run(bench(big, little, args.tickets, args.small, args.requests))
    write_result("scale", result)
    print_table(result)


if __name__ == "__main__":
    main()
