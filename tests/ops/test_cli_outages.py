"""`ticketing outage …` and `ticketing customer set` end to end: real PostgreSQL, a real
Temporal dev server and a real worker process paging the outage."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.ops.support import error_line, in_thread, ok_json
from tests.ops.test_cli import BackgroundWorker

TABLES = (
    "outage_alerts, outage_updates, outages, notifications, sla_breaches, ticket_events, "
    "ticket_messages, tickets, customers, tenants, partners"
)
TAG = "olt:berlin-7"
TASK_QUEUE = "cli-outage-tests"


def query(owner_url: str, sql: str) -> list[tuple[Any, ...]]:
    async def go() -> list[tuple[Any, ...]]:
        engine = create_async_engine(owner_url)
        async with engine.begin() as connection:
            rows = [tuple(r) for r in await connection.execute(text(sql))]
        await engine.dispose()
        return rows

    return in_thread(asyncio.run, go())


@pytest.fixture(scope="module")
def stack(cli: Any, env: dict[str, str], database_url: str, owner_url: str) -> Iterator[None]:
    assert cli("migrate").exit_code == 0
    truncate = f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"
    in_thread(asyncio.run, _execute(owner_url, truncate, "UPDATE ticket_counters SET value = 0"))
    ok_json(cli("tenant", "add", "acme", "--support-email", "support@acme.test", "--json"))
    ok_json(cli("tenant", "add", "globex", "--json"))
    with BackgroundWorker(env, database_url):
        yield
    in_thread(asyncio.run, _execute(owner_url, truncate))


async def _execute(owner_url: str, *statements: str) -> None:
    """The owner empties tables, never the app."""
    engine = create_async_engine(owner_url)
    async with engine.begin() as connection:
        for sql in statements:
            await connection.execute(text(sql))
    await engine.dispose()


def until_notified(cli: Any, number: str, count: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        shown = ok_json(cli("outage", "show", number, "--json"))
        if shown["notified"] == count or time.monotonic() > deadline:
            return shown
        time.sleep(0.2)


def test_customer_set_replaces_tags_and_refuses_bad_ones(cli: Any, stack: None) -> None:
    saved = ok_json(
        cli("customer", "set", "1", "--tenant", "acme", "--tag", TAG, "--tag", "x:y", "--json")
    )
    assert saved["tags"] == [TAG, "x:y"] and saved["tenant_id"] == "acme"
    replaced = ok_json(cli("customer", "set", "1", "--tenant", "acme", "--tag", TAG, "--json"))
    assert replaced["tags"] == [TAG]
    line = error_line(cli("customer", "set", "1", "--tenant", "acme", "--tag", "has space"))
    assert line.startswith("error: tags")
    result = cli("customer", "set", "1", "--tenant", "nobody", "--tag", TAG, "--json")
    assert result.exit_code == 2 and json.loads(result.stdout)["error"]["field"] == "tenant_id"


def test_declare_update_resolve_in_four_lines(cli: Any, stack: None, owner_url: str) -> None:
    for n in (1, 2, 3):
        tags = [TAG] if n < 3 else ["olt:other"]
        args = ["customer", "set", str(n), "--tenant", "acme", "--json"]
        ok_json(cli(*args, "--email", f"c{n}@a.test", *[a for t in tags for a in ("--tag", t)]))
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    base = ("outage", "declare", "--tenant", "acme", "--title", "Fibre cut", "--tag", TAG)
    assert error_line(cli(*base, "--eta", past)).startswith("error: eta:")
    assert error_line(cli(*base, "--eta", "soon")).startswith("error: eta:")
    assert error_line(cli(*base, "--notify", "everyone")).startswith("error: notify:")
    assert error_line(cli("outage", "update", "nope", "--body", "x")).startswith("error: number:")

    eta = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    declared = ok_json(cli(*base, "--description", "We are on it", "--eta", eta, "--json"))
    assert declared["affected"] == 2 and "warning" not in declared
    number = declared["ticket_number"]
    until_notified(cli, number, 2)

    first = ok_json(cli("outage", "update", number, "--body", "Splicing", "--json"))
    again = ok_json(cli("outage", "update", number, "--body", "Splicing", "--json"))
    assert first == again and first["seq"] == 2
    until_notified(cli, number, 2)
    done = ok_json(cli("outage", "resolve", number, "--body", "Back online", "--json"))
    assert ok_json(cli("outage", "resolve", number, "--body", "Back online", "--json")) == done
    shown = until_notified(cli, number, 2)
    assert shown["status"] == "resolved"
    assert [u["body"] for u in shown["updates"]] == ["We are on it", "Splicing", "Back online"]

    listed = ok_json(cli("outage", "list", "--tenant", "acme", "--status", "resolved", "--json"))
    assert [o["ticket_number"] for o in listed["items"]] == [number]
    assert error_line(cli("outage", "list", "--status", "bogus")).startswith("error: status:")
    assert error_line(cli("outage", "show", number, "--tenant", "globex")).startswith(
        "error: ticket:"
    )
    plain = cli("outage", "show", number)
    assert plain.exit_code == 0 and "Back online" in plain.stdout

    mail = query(
        owner_url,
        "SELECT recipient, payload->>'body', count(*) FROM notifications"
        " WHERE kind IN ('outage_update', 'outage_resolved') GROUP BY 1, 2 ORDER BY 1, 2",
    )
    assert mail == [
        (f"c{n}@a.test", body, 1)
        for n in (1, 2)
        for body in sorted(["We are on it", "Splicing", "Back online"])
    ]
