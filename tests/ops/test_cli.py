"""The `ticketing` CLI end to end: real PostgreSQL, a real Temporal dev server and a real worker.

Each CLI call runs `asyncio.run` internally, so it is invoked in a separate thread, away from the
session event loop pytest-asyncio keeps in the main thread.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from tests.ops.support import error_line, in_thread, ok_json
from ticketing_ops.cli import app

TABLES = (
    "notifications, sla_breaches, ticket_events, ticket_messages, tickets, customers, tenants, "
    "partners"
)
TASK_QUEUE = "cli-tests"


@pytest.fixture(scope="module")
def stack(cli: Any, env: dict[str, str], database_url: str, owner_url: str) -> Iterator[None]:
    """Migrated, emptied database with tenant acme (partner fiberco) and a worker running."""
    assert cli("migrate").exit_code == 0

    async def truncate() -> None:
        engine = create_async_engine(owner_url)  # the owner empties tables, never the app
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
            await connection.execute(text("UPDATE ticket_counters SET value = 0"))
        await engine.dispose()

    in_thread(asyncio.run, truncate())
    ok_json(
        cli(
            "partner",
            "add",
            "fiberco",
            "--name",
            "FiberCo",
            "--email",
            "noc@fiberco.test",
            "--json",
        )
    )
    ok_json(
        cli(
            "tenant",
            "add",
            "acme",
            "--name",
            "Acme ISP",
            "--partner",
            "fiberco",
            "--support-email",
            "support@acme.test",
            "--json",
        )
    )

    with BackgroundWorker(env, database_url):
        yield
    in_thread(asyncio.run, truncate())


class BackgroundWorker:
    """The real worker as its own process (`ticketing worker`), so its logs never mix with a
    CLI call's output; stopped with SIGTERM like a deployed one."""

    def __init__(self, env: dict[str, str], database_url: str) -> None:
        self.env = {**os.environ, **env, "TICKETING_DATABASE_URL": database_url}
        self.log = tempfile.TemporaryFile()

    def __enter__(self) -> BackgroundWorker:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ticketing_ops.cli", "worker"],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while b"worker_started" not in self._output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"worker did not start:\n{self._output().decode()}")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()

    def _output(self) -> bytes:
        self.log.seek(0)
        return self.log.read()


# -- bad input: one line, the field named, exit code 2 ---------------------------------------


def test_bad_tenant_id_names_the_field(cli: Any, stack: None) -> None:
    line = error_line(cli("tenant", "add", "bad id!"))
    assert line.startswith("error: tenant_id:")
    result = cli("tenant", "add", "bad id!", "--json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["field"] == "tenant_id" and error["type"] == "InvalidInput"


def test_tenant_public_tags_for_the_status_page(cli: Any, stack: None) -> None:
    result = cli(
        "tenant", "add", "pubt", "--public-tag", "postcode:", "--public-tag", "olt:b-7", "--json"
    )
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)["public_tags"] == ["olt:b-7", "postcode:"]
    # Not given: the set is kept.
    again = json.loads(cli("tenant", "add", "pubt", "--name", "Pub", "--json").stdout)
    assert again["public_tags"] == ["olt:b-7", "postcode:"]
    assert error_line(cli("tenant", "add", "pubt", "--public-tag", "a b")).startswith(
        "error: public_tags"
    )


def test_unknown_partner_and_timezone(cli: Any, stack: None) -> None:
    assert error_line(cli("tenant", "add", "t2", "--partner", "nobody")).startswith(
        "error: partner_id:"
    )
    assert "timezone" in error_line(cli("tenant", "add", "t2", "--timezone", "Mars/Olympus"))


def test_unknown_ticket(cli: Any, stack: None) -> None:
    assert error_line(cli("ticket", "show", "TKT-999999")) == (
        "error: ticket: no ticket 'TKT-999999'"
    )
    result = cli("ticket", "reply", "TKT-999999", "--body", "hi", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["type"] == "TicketNotFound"


def test_list_filters_are_validated(cli: Any, stack: None) -> None:
    assert error_line(cli("tickets", "list", "--status", "bogus")).startswith("error: status:")
    assert error_line(cli("tickets", "list", "--limit", "0")).startswith("error: limit:")


def test_onboard_unknown_tenant_and_bad_email(cli: Any, stack: None) -> None:
    line = error_line(
        cli("onboard", "--tenant", "nope", "--customer-id", "1", "--email", "a@b.test")
    )
    assert line.startswith("error: tenant_id:")
    line = error_line(
        cli("onboard", "--tenant", "acme", "--customer-id", "1", "--email", "not-an-email")
    )
    assert line.startswith("error: customer_email:")
    line = error_line(
        cli("onboard", "--tenant", "acme", "--customer-id", "x!", "--email", "a@b.test")
    )
    assert line.startswith("error: customer_id:")


# -- the happy paths ---------------------------------------------------------------------------


def test_onboard_then_work_the_ticket(cli: Any, stack: None) -> None:
    first = ok_json(
        cli(
            "onboard",
            "--tenant",
            "acme",
            "--customer-id",
            "42",
            "--email",
            "jane@example.com",
            "--name",
            "Jane",
            "--json",
        )
    )
    number = first["ticket_number"]
    assert number.startswith("TKT-")
    assert first["workflow_id"] == "onboarding-acme-42"
    again = ok_json(
        cli(
            "onboard",
            "--tenant",
            "acme",
            "--customer-id",
            "42",
            "--email",
            "jane@example.com",
            "--json",
        )
    )
    assert again["ticket_number"] == number

    page = ok_json(cli("tickets", "list", "--tenant", "acme", "--json"))
    assert [t["ticket_number"] for t in page["items"]] == [number]
    assert page["next_cursor"] is None
    assert ok_json(cli("tickets", "list", "--search", "nothing-like-it", "--json"))["items"] == []

    reply = ok_json(
        cli(
            "ticket",
            "reply",
            number,
            "--body",
            "Welcome aboard",
            "--author",
            "agent@acme.test",
            "--json",
        )
    )
    assert reply["watcher_notified"] is True
    assert reply["ticket"]["first_response_at"] is not None
    assert ok_json(cli("ticket", "pending", number, "--json"))["ticket"]["status"] == "pending"
    assert ok_json(cli("ticket", "reopen", number, "--json"))["ticket"]["status"] == "open"
    assert error_line(cli("ticket", "reopen", number)) == (
        "error: status: cannot move a ticket from 'open' to 'open'"
    )
    assert ok_json(cli("ticket", "resolve", number, "--json"))["ticket"]["status"] == "resolved"
    assert ok_json(cli("ticket", "reopen", number, "--json"))["ticket"]["status"] == "open"

    shown = ok_json(cli("ticket", "show", number, "--json"))
    assert shown["ticket"]["ticket_number"] == number
    assert [m["body"] for m in shown["messages"]][-1] == "Welcome aboard"
    kinds = [e["kind"] for e in shown["events"]]
    assert kinds[0] == "created" and "paused" in kinds and "resumed" in kinds
    notices = {n["kind"]: n for n in shown["notifications"]}
    assert {"ticket_created", "waiting_on_customer", "ticket_resolved", "ticket_reopened"} <= set(
        notices
    )
    assert all(n["status"] in ("queued", "sent", "failed") for n in notices.values())
    # The reopened ticket has a running watcher again, answering the sla_state query.
    assert shown["sla"] is not None or shown["sla_error"], shown
    if shown["sla"] is not None:
        assert shown["sla"]["ticket_number"] == number

    human = cli("ticket", "show", number)
    assert human.exit_code == 0 and number in human.stdout and "Welcome aboard" in human.stdout
    table = cli("tickets", "list")
    assert table.exit_code == 0 and number in table.stdout


def test_install_schedule_complete(cli: Any, stack: None) -> None:
    started = ok_json(
        cli(
            "install",
            "--tenant",
            "acme",
            "--customer-id",
            "77",
            "--address",
            "1 Main St",
            "--service",
            "fiber",
            "--serial",
            "ONT-1",
            "--email",
            "bob@example.com",
            "--json",
        )
    )
    number = started["ticket_number"]
    assert started["workflow_id"].startswith("installation-acme-77-")

    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    line = error_line(
        cli("installation", "schedule", number, "--at", past, "--technician", "Grace")
    )
    assert line.startswith("error: at:") and "in the past" in line
    assert error_line(
        cli("installation", "schedule", number, "--at", "2030-01-01T10:00", "--technician", "Grace")
    ).startswith("error: at:")

    future = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0).isoformat()
    state = ok_json(
        cli("installation", "schedule", number, "--at", future, "--technician", "Grace", "--json")
    )
    assert state["phase"] == "scheduled" and state["visit"]["technician"] == "Grace"

    done = ok_json(cli("installation", "complete", number, "--notes", "ONT online", "--json"))
    assert done == {
        "ticket_number": number,
        "workflow_id": started["workflow_id"],
        "signal": "complete_installation",
        "phase": "completed",
        "status": "resolved",
    }
    line = error_line(
        cli("installation", "schedule", number, "--at", future, "--technician", "Grace")
    )
    assert "temporal" in line or "completed" in line


def test_installation_verbs_need_an_installation_ticket(cli: Any, stack: None) -> None:
    number = ok_json(
        cli(
            "onboard",
            "--tenant",
            "acme",
            "--customer-id",
            "43",
            "--email",
            "x@example.com",
            "--json",
        )
    )["ticket_number"]
    line = error_line(cli("installation", "cancel", number, "--reason", "moved"))
    assert line.startswith("error: ticket:")


def test_ticket_type_and_merge(cli: Any, stack: None) -> None:
    # The operator acts as the platform, which may merge across customers.
    def onboard(customer: str) -> str:
        started = ok_json(
            cli(
                "onboard",
                "--tenant",
                "acme",
                "--customer-id",
                customer,
                "--email",
                f"c{customer}@example.com",
                "--json",
            )
        )
        return str(started["ticket_number"])

    number, duplicate = onboard("51"), onboard("52")
    retyped = ok_json(cli("ticket", "type", number, "outage_report", "--json"))
    assert retyped["ticket"]["ticket_type"] == "outage_report"
    assert error_line(cli("ticket", "type", number, "fault")).startswith("error: ticket_type: ")
    merged = ok_json(cli("ticket", "merge", duplicate, "--into", number, "--json"))
    assert merged["ticket"]["status"] == "closed"
    again = ok_json(cli("ticket", "merge", duplicate, "--into", number, "--json"))
    assert again["ticket"]["status"] == "closed"
    assert error_line(cli("ticket", "merge", number, "--into", number)).startswith("error: into: ")


def test_ticket_assign_and_priority(cli: Any, stack: None, env: dict[str, str]) -> None:
    started = ok_json(
        cli(
            "onboard",
            "--tenant",
            "acme",
            "--customer-id",
            "61",
            "--email",
            "c61@example.com",
            "--json",
        )
    )
    number = str(started["ticket_number"])
    assert error_line(cli("ticket", "assign", number, "--to", "ana@acme.test")).startswith(
        "error: assigned_to: "
    )
    add_agent = ["agent", "add", "ana@acme.test", "--tenant", "acme", "--password-stdin"]
    added = in_thread(
        lambda: CliRunner().invoke(app, [*add_agent, "--json"], env=env, input="s3cret-pass\n")
    )
    ok_json(added)
    assigned = ok_json(cli("ticket", "assign", number, "--to", "ana@acme.test", "--json"))
    assert assigned["ticket"]["assigned_to"] == "ana@acme.test"
    plain = cli("ticket", "assign", number, "--to", "ana@acme.test")
    assert plain.exit_code == 0 and "assigned to ana@acme.test" in plain.stdout
    unassigned = ok_json(cli("ticket", "assign", number, "--json"))
    assert unassigned["ticket"]["assigned_to"] is None
    before = started.get("first_response_due") or assigned["ticket"]["first_response_due"]
    raised = ok_json(cli("ticket", "priority", number, "URGENT", "--json"))
    assert raised["ticket"]["priority"] == "urgent"
    assert raised["ticket"]["first_response_due"] < before
    assert error_line(cli("ticket", "priority", number, "asap")).startswith("error: priority: ")
    assert error_line(cli("ticket", "assign", "TKT-999999", "--to", "x")).startswith(
        "error: ticket: "
    )
