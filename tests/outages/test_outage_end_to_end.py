"""The issue's end-to-end outage: thousands of affected customers (one in 25 with an open
ticket) on a real PostgreSQL, a Temporal dev server, a worker process killed mid-way and
restarted, and a real SMTP server: declared, updated twice and resolved; every affected
customer gets exactly one mail per update, every linked ticket is resolved, tickets opened
during the outage by email, API and chat are linked and answered at once, and no linked ticket
records an SLA breach for the outage's time.

TICKETING_OUTAGE_E2E_CUSTOMERS sets the number of affected customers: the issue's 5,000 take
about two minutes here (20,000 mails, sent in chunks since the dispatcher's rework; six minutes
one row at a time), and the suite runs them. With mail this fast the kill
can land while the first update's pages still run, before the resolution is posted.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import signal
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import IO, Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from tests.mail.messages import plain
from tests.notifications.smtp_support import RecordingHandler, smtp_server
from ticketing.auth.apikeys import ApiKeyService
from ticketing.auth.chat_identity import identity_secret
from ticketing.auth.models import KeyRole
from ticketing.auth.principal import Principal
from ticketing.auth.signed_links import TrackingTokens
from ticketing.mail.flows import IntakeConfig, MailIntake
from ticketing.mail.mailboxes import MailboxService
from ticketing.notifications.dispatch import DispatcherInput
from ticketing.outages.schemas import PageResult
from ticketing.sla import demo_policy
from ticketing.temporal.dispatcher import DispatcherDoorbell
from ticketing.temporal.names import outage_workflow_id
from ticketing.temporal.outages import TemporalOutageRuns
from ticketing.temporal.watchers import TemporalWatchers
from ticketing.tenants.service import TenantService
from ticketing.tickets.flows import TicketFlows
from ticketing.web.app import create_app
from ticketing.web.deps import ApiPorts
from ticketing.web.tracking import TrackingConfig

Sessions = async_sessionmaker[AsyncSession]
AFFECTED = int(os.environ.get("TICKETING_OUTAGE_E2E_CUSTOMERS", "5000"))
WITH_TICKETS = max(AFFECTED // 25, 3)
TAG = "olt:berlin-7"
SECRET = b"outage-e2e-server-secret-0123456789abcdefgh"
TEXTS = (
    "UPDATE-0 A fibre cable is cut; engineers are on their way.",
    "UPDATE-1 The damaged cable is found; splicing starts.",
    "UPDATE-2 Splicing is 80 percent done.",
    "UPDATE-3 Service is back: thank you for your patience.",
)


class WorkerProcess:
    """`python -m worker` on the test's servers; killed with SIGKILL like a lost machine."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.log: IO[bytes] = tempfile.TemporaryFile()
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "worker", env=self.env, stdout=self.log, stderr=self.log
        )
        for _ in range(600):
            self.log.seek(0)
            if b"worker_started" in self.log.read():
                return
            if self.process.returncode is not None:
                break
            await asyncio.sleep(0.1)
        self.log.seek(0)
        raise AssertionError(f"worker did not start:\n{self.log.read().decode()[-3000:]}")

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 60)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def seed(committed: Sessions, owner_url: str) -> str:
    """acme with a seconds-scale SLA policy, its mailbox, the customers; an integration key."""
    async with committed() as s, s.begin():
        tenants = TenantService(s, Principal.platform())
        await tenants.register_tenant(
            "acme", name="Acme ISP", support_email="desk@acme.test", sla_policy=demo_policy(2)
        )
        await MailboxService(s, Principal.platform()).add("support@acme.test", tenant_id="acme")
        key = await ApiKeyService(s, Principal.platform()).issue(
            KeyRole.INTEGRATION, tenant_id="acme", name="e2e"
        )
    owner = create_async_engine(owner_url)
    async with owner.begin() as connection:
        # Bulk: the customers' own upsert is tested elsewhere; here the scale is the point.
        await connection.execute(
            text(
                "INSERT INTO customers (tenant_id, id, email, tags)"
                " SELECT 'acme', g::text, 'c' || g || '@example.com',"
                " CASE WHEN g <= :n THEN ARRAY[:tag]::varchar[] ELSE ARRAY['olt:other']::varchar[]"
                " END FROM generate_series(1, :total) g"
            ),
            {"n": AFFECTED, "tag": TAG, "total": AFFECTED + 100},
        )
    await owner.dispose()
    return key.key


def mark(what: str) -> None:
    """Phases on stderr (`-s` shows them): where a slow run spends its time."""
    print(f"outage-e2e {datetime.now(UTC).isoformat(timespec='seconds')} {what}", file=sys.stderr)


async def scalar(sessions: Sessions, sql: str, **params: object) -> Any:
    async with sessions() as s:
        return (await s.execute(text(sql), params)).scalar()


async def until(check: Any, what: str, seconds: float = 600) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


@asynccontextmanager
async def api(client: Client, committed: Sessions, queue: str) -> AsyncIterator[httpx.AsyncClient]:
    doorbell = DispatcherDoorbell(client, queue, DispatcherInput())
    async with doorbell.lifetime():
        ports = ApiPorts(
            sessions=committed,
            watchers=TemporalWatchers(client, queue),
            notices=doorbell,
            outages=TemporalOutageRuns(client, queue, page_size=200, pages_per_run=5),
        )
        app = create_app(ports, tracking=TrackingConfig(TrackingTokens(SECRET)))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            yield http


def mail_text(message: Any) -> str:
    body = message.get_body(preferencelist=("plain",))
    return str(body.get_content()) if body is not None else ""


# A generous budget: mail went out at 30 to 150 a second one row at a time on a loaded machine
# (now ~200-390), four per customer, plus the dispatcher's heartbeat timeout (30 s) after the
# kill and the claimed rows' lease (90 s).
MAIL_SECONDS = 180 + AFFECTED * 4 / 20


@pytest.mark.timeout(max(900, 300 + MAIL_SECONDS))
async def test_an_outage_of_thousands_with_a_worker_killed_midway(
    dev: WorkflowEnvironment, committed: Sessions, database_url: str, owner_url: str
) -> None:
    client = dev.client
    queue = f"outage-e2e-{uuid.uuid4().hex[:8]}"
    key = await seed(committed, owner_url)
    handler = RecordingHandler()
    with smtp_server(handler) as smtp_port:
        env = {
            **os.environ,
            "TICKETING_DATABASE_URL": database_url,
            "TEMPORAL_ADDRESS": client.service_client.config.target_host,
            "TICKETING_TASK_QUEUE": queue,
            "TICKETING_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "TICKETING_RECONCILE_EVERY": "10",
            "TICKETING_LOG_LEVEL": "INFO",
        }
        worker = WorkerProcess(env)
        await worker.start()
        mark("worker started")
        try:
            await run_the_outage(client, committed, queue, key, worker)
        finally:
            await worker.stop()
        await check_the_mail(committed, handler)


async def run_the_outage(
    client: Client, committed: Sessions, queue: str, key: str, worker: WorkerProcess
) -> None:
    watchers = TemporalWatchers(client, queue)
    doorbell = DispatcherDoorbell(client, queue, DispatcherInput())
    tickets = TicketFlows(
        committed, Principal.integration("acme"), watchers=watchers, notices=doorbell
    )
    # One affected customer in 25 has an open ticket before the outage (and one without the
    # tag, which stays out of it).
    for n in range(1, AFFECTED + 1, AFFECTED // WITH_TICKETS):
        await tickets.create({"title": "No internet", "customer_id": str(n), "tenant_id": "acme"})
    bystander = await tickets.create(
        {"title": "Invoice", "customer_id": str(AFFECTED + 1), "tenant_id": "acme"}
    )
    await doorbell.aclose()
    mark("tickets opened")
    auth = {"Authorization": f"Bearer {key}"}
    async with api(client, committed, queue) as http:
        declared = await http.post(
            "/api/v1/outages",
            json={"title": "Fibre cut Berlin", "description": TEXTS[0], "tags": [TAG]},
            headers=auth,
        )
        assert declared.status_code == 201, declared.text
        outage = declared.json()
        number = outage["ticket_number"]
        assert outage["affected"] == AFFECTED
        started = datetime.now(UTC)
        mark("declared")

        # Mid-way through the first update's pages (and its mail), the worker dies.
        async def some_mail() -> bool:
            sent = await scalar(
                committed,
                "SELECT count(*) FROM notifications WHERE kind = 'outage_update'"
                " AND sent_at IS NOT NULL",
            )
            return bool(sent >= AFFECTED // 5)

        await until(some_mail, "the first mails")
        await worker.kill()
        mark("worker killed")
        await worker.start()
        mark("worker restarted")

        # New tickets of affected customers during the outage: email, API, chat.
        opened = await open_during_outage(committed, http, key, watchers, doorbell)
        mark("opened during the outage")
        for ticket_id in opened:
            linked = await scalar(
                committed, "SELECT outage_number FROM tickets WHERE id = :id", id=ticket_id
            )
            assert linked == int(number.removeprefix("TKT-"))
            answer = await scalar(
                committed,
                "SELECT body FROM ticket_messages WHERE ticket_id = :id AND NOT is_internal"
                " AND author_actor = 'tenant' ORDER BY id DESC LIMIT 1",
                id=ticket_id,
            )
            assert answer in TEXTS[:3]

        for n, body in enumerate(TEXTS[1:3], start=1):
            posted = await http.post(
                f"/api/v1/outages/{number}/updates",
                json={"body": body},
                headers={**auth, "Idempotency-Key": f"update-{n}"},
            )
            assert posted.status_code == 202, posted.text
        resolved = await http.post(
            f"/api/v1/outages/{number}/resolve", json={"body": TEXTS[3]}, headers=auth
        )
        assert resolved.status_code == 202, resolved.text

    handle = client.get_workflow_handle(outage_workflow_id(number), result_type=PageResult)
    assert (await asyncio.wait_for(handle.result(), 600)).finished
    mark("run finished")

    async def all_sent() -> bool:
        unsent = await scalar(
            committed,
            "SELECT count(*) FROM notifications WHERE sent_at IS NULL AND failed_at IS NULL",
        )
        return bool(unsent == 0)

    try:
        await until(all_sent, "every notice sent", MAIL_SECONDS)
    except AssertionError:
        async with committed() as s:
            left = (
                await s.execute(
                    text(
                        "SELECT kind, attempts, recipient IS NULL, min(next_attempt_at), count(*)"
                        " FROM notifications WHERE sent_at IS NULL AND failed_at IS NULL"
                        " GROUP BY 1, 2, 3"
                    )
                )
            ).all()
        raise AssertionError(f"unsent notices: {left}") from None
    mark("every notice sent")
    number_int = int(number.removeprefix("TKT-"))
    unresolved = await scalar(
        committed,
        "SELECT count(*) FROM tickets WHERE outage_number = :n AND status NOT IN"
        " ('resolved', 'closed')",
        n=number_int,
    )
    linked = await scalar(
        committed, "SELECT count(*) FROM tickets WHERE outage_number = :n", n=number_int
    )
    async with committed() as s:
        spread = (
            await s.execute(
                text("SELECT outage_number, status, count(*) FROM tickets GROUP BY 1, 2")
            )
        ).all()
    assert (unresolved, linked) == (0, WITH_TICKETS + 3), (number_int, spread)
    assert (
        await scalar(committed, "SELECT status FROM tickets WHERE id = :id", id=bystander.ticket_id)
        == "open"
    )
    breaches = await scalar(
        committed,
        "SELECT count(*) FROM sla_breaches b JOIN tickets t ON t.id = b.ticket_id"
        " WHERE t.outage_number = :n AND b.due_at >= :started",
        n=number_int,
        started=started,
    )
    assert breaches == 0


async def open_during_outage(
    committed: Sessions,
    http: httpx.AsyncClient,
    key: str,
    watchers: TemporalWatchers,
    doorbell: DispatcherDoorbell,
) -> list[uuid.UUID]:
    """Customers 2, 3 and 4 write in: by email, through the API, by chat."""
    intake = MailIntake(
        committed,
        watchers=watchers,
        notices=doorbell,
        config=IntakeConfig(own_sender="tickets@localhost", mail_domain="acme.test"),
    )
    by_mail = await intake.receive(
        plain(sender="c2@example.com", message_id="<down-2@example.com>", name=None)
    )
    assert by_mail.ticket_number is not None, by_mail
    auth = {"Authorization": f"Bearer {key}"}
    by_api = await http.post(
        "/api/v1/tickets", json={"title": "Internet down", "customer_id": "3"}, headers=auth
    )
    assert by_api.status_code == 201, by_api.text
    async with committed() as s:
        key_id = await s.scalar(text("SELECT id FROM api_keys WHERE name = 'e2e'"))
    secret = identity_secret(SECRET, key_id).encode()
    signature = hmac.new(secret, b"4", hashlib.sha256).hexdigest()
    by_chat = await http.post(
        "/api/v1/chat/tickets",
        json={"customer_id": "4", "customer_signature": signature, "message": "no internet"},
        headers=auth,
    )
    assert by_chat.status_code == 201, by_chat.text
    numbers = [
        by_mail.ticket_number,
        by_api.json()["ticket_number"],
        by_chat.json()["ticket_number"],
    ]
    ids = []
    for ticket_number in numbers:
        found = await scalar(
            committed,
            "SELECT id FROM tickets WHERE number = :n",
            n=int(ticket_number.removeprefix("TKT-")),
        )
        ids.append(found)
    return ids


async def check_the_mail(committed: Sessions, handler: RecordingHandler) -> None:
    """Every affected customer: each update exactly once (one Message-ID), nobody else."""
    ids: dict[tuple[str, str], set[str]] = {}
    for received in handler.received:
        body = mail_text(received.message)
        for update in TEXTS:
            if update in body:
                for recipient in received.recipients:
                    ids.setdefault((recipient, update), set()).add(
                        str(received.message["Message-ID"])
                    )
    per_update = Counter(update for (_, update) in ids)
    assert per_update == Counter({update: AFFECTED for update in TEXTS}), per_update
    assert {len(found) for found in ids.values()} == {1}
    assert {r for (r, _) in ids} == {f"c{n}@example.com" for n in range(1, AFFECTED + 1)}
