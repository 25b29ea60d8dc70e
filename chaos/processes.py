"""The stack under test: PostgreSQL, the Temporal dev server, Dovecot, the notices' mail server,
and the product's processes (workers, the API, the mail intake) under supervisors."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from chaos.plan import TENANTS, ChaosConfig, sla_policy_in_seconds
from chaos.plan_mail import IMAP_PASSWORD, imap_mailbox, imap_user, smtp_mailbox
from chaos.smtp import FaultySmtp
from chaos.supervisor import Supervisor
from ticketing.auth.apikeys import ApiKeyService
from ticketing.auth.models import KeyRole
from ticketing.auth.principal import Principal
from ticketing.db.embedded import (
    embedded_app_url,
    embedded_postgres_running,
    embedded_postgres_url,
    stop_embedded_postgres,
)
from ticketing.db.engine import make_engine, migrate_async
from ticketing.mail.mailboxes import ImapAccount, MailboxService, PasswordBox
from ticketing.tenants.service import TenantService
from ticketing_ops.devstack import TemporalDevServer, find_free_port
from ticketing_ops.dovecot import Dovecot, dovecot

TASK_QUEUE = "ticketing"
SECRET = "chaos-run-secret-key-of-at-least-thirty-two-characters"
CLI = [sys.executable, "-m", "ticketing_ops.cli"]

# (tenant, customer id, email) of every customer the HTTP creates and the mail name.
Customers = list[tuple[str, str, str]]


class EmbeddedPostgres:
    """The embedded cluster under `<home>/pgdata`, stopped and started again exactly as the
    product starts it (`ticketing.db.embedded`): same server user and groups, umask, socket
    directory and password, so a restart is the one an operator's restart would be."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.url = ""

    def start(self) -> str:
        self.url = embedded_postgres_url(self.home)
        return self.url

    def stop(self) -> None:
        stop_embedded_postgres(self.home)

    def running(self) -> bool:
        return embedded_postgres_running(self.home)


async def prepare_database(url: str, customers: Customers, imap_port: int) -> dict[str, str]:
    """Migrate and register the run's partner, tenants, customers and mailboxes, as the
    platform operator would; returns each tenant's API key (integration role)."""
    await migrate_async(url)
    engine = make_engine(url)
    platform = Principal.platform(name="chaos")
    keys: dict[str, str] = {}
    try:
        async with engine.begin() as connection:
            await connection.execute(text("SELECT 1"))
        async with async_sessionmaker(engine)() as session, session.begin():
            service = TenantService(session, platform)
            await service.register_partner(
                "chaos-partner", name="Chaos Partner", email="noc@chaos-partner.test"
            )
            for tenant in TENANTS:
                # Targets in seconds: warnings, breaches and escalations fire while the
                # faults are on, not hours after the run.
                await service.register_tenant(
                    tenant, name=f"Chaos {tenant}", support_email=f"support@{tenant}.test",
                    partner_id="chaos-partner" if tenant == "chaos-b" else None,
                    sla_policy=sla_policy_in_seconds(),
                )
            for tenant, customer_id, email in customers:
                await service.upsert_customer(
                    tenant_id=tenant, customer_id=customer_id, email=email,
                    name=f"Chaos Customer {customer_id}",
                )
            boxes = MailboxService(session, platform)
            passwords = PasswordBox(SECRET.encode())
            for tenant in TENANTS:
                await boxes.add(smtp_mailbox(tenant), tenant_id=tenant)
                account = ImapAccount(
                    secure=False, host="127.0.0.1", port=imap_port, user=imap_user(tenant),
                    folder="INBOX", password=IMAP_PASSWORD,
                )
                await boxes.add(
                    imap_mailbox(tenant), tenant_id=tenant, imap=account, passwords=passwords
                )
                issued = await ApiKeyService(session, platform).issue(
                    KeyRole.INTEGRATION, tenant_id=tenant, name="chaos"
                )
                keys[tenant] = issued.key
    finally:
        await engine.dispose()
    return keys


def stack_env(app_url: str, home: Path, temporal_host: str, smtp_port: int,
              mail_port: int) -> dict[str, str]:
    """The environment of every product process: one database, one Temporal, one secret."""
    env = {
        **os.environ,
        "TICKETING_DATABASE_URL": app_url,
        "TICKETING_HOME": str(home),
        "TEMPORAL_ADDRESS": temporal_host,
        "TEMPORAL_NAMESPACE": "default",
        "TICKETING_TASK_QUEUE": TASK_QUEUE,
        "TICKETING_LOG_FORMAT": "json",
        "TICKETING_LOG_LEVEL": "WARNING",
        "TICKETING_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "TICKETING_PLATFORM_EMAIL": "platform@chaos.test",
        "TICKETING_SECRET_KEY": SECRET,
        # Transient mail failures retried within seconds, for about 40 s in all: longer
        # than the outage, so only refused rows may end `failed`.
        "TICKETING_MAIL_RETRY_FIRST_DELAY": "1",
        "TICKETING_MAIL_RETRY_MAX_DELAY": "8",
        "TICKETING_MAIL_RETRY_MAX_ATTEMPTS": "8",
        "TICKETING_DISPATCH_POLL_SECONDS": "5",
        "TICKETING_MAIL_IMAP_POLL_SECONDS": "2",
        "TICKETING_MAIL_LISTEN": f"127.0.0.1:{mail_port}",
        # The run's senders write many mails within the hour to one tenant: no rate hold.
        "TICKETING_MAIL_MAX_PER_HOUR": "100000",
        # The API and the mail intake start a new ticket's watcher after answering; one killed
        # in between leaves that start to the reconciler, its documented backstop. Every 20 s
        # here (300 s by default) so the watcher checks see its repairs within the run; how
        # many it made is counted from the workers' logs (`reconciler_repairs`).
        "TICKETING_RECONCILE_EVERY": "20",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("TICKETING_METRICS_PORT", None)
    env.pop("TICKETING_MAIL_METRICS_PORT", None)
    return env


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


class Stack:
    """Everything under test, under one home, and the driver's client of the dev server."""

    def __init__(self, home: Path, config: ChaosConfig, log_event: Callable[..., None]) -> None:
        self.home = home
        self.config = config
        self.log_event = log_event
        self.postgres = EmbeddedPostgres(home)
        self.temporal = TemporalDevServer(
            home, port=find_free_port(), ui_port=find_free_port(), headless=True
        )
        self.sink = FaultySmtp()
        self.workers: list[Supervisor] = []
        self.api: Supervisor | None = None
        self.mail: Supervisor | None = None
        self.api_port = find_free_port()
        self.mail_port = find_free_port()
        self.api_keys: dict[str, str] = {}
        self.imap: Dovecot | None = None
        self.client: Client | None = None
        self._closing = contextlib.ExitStack()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def processes(self) -> list[Supervisor]:
        return [*self.workers, *(p for p in (self.api, self.mail) if p is not None)]

    async def start(self, customers: Customers) -> None:
        self.imap = await asyncio.to_thread(
            self._closing.enter_context, dovecot(self.home / "dovecot")
        )
        url = await asyncio.to_thread(self.postgres.start)
        self.api_keys = await prepare_database(url, customers, self.imap.port)
        # The product's processes connect as the app's role, as deployed: row-level security
        # applies to everything they do. The owner's URL is for set-up and verification only.
        app_url = await asyncio.to_thread(embedded_app_url, self.home)
        await self.sink.start()
        await self.temporal.start()
        self.client = await Client.connect(
            self.temporal.target_host,
            data_converter=pydantic_data_converter,
            # The SDK core warns on every retried call while a server is down: expected here.
            runtime=Runtime(
                telemetry=TelemetryConfig(
                    logging=LoggingConfig(filter=TelemetryFilter("ERROR", "ERROR"))
                )
            ),
        )
        env = stack_env(app_url, self.home, self.temporal.target_host, self.sink.port,
                        self.mail_port)
        for index in range(self.config.workers):
            self.workers.append(
                Supervisor(f"worker{index + 1}", [*CLI, "worker"], env, self.home, self.log_event)
            )
        api_argv = [*CLI, "api", "--host", "127.0.0.1", "--port", str(self.api_port),
                    "--workers", str(self.config.api_workers)]
        self.api = Supervisor("api", api_argv, env, self.home, self.log_event)
        self.mail = Supervisor("mail", [*CLI, "mail", "serve"], env, self.home, self.log_event)
        for process in self.processes:
            await process.start()
        await self.wait_ready(time.monotonic() + 120)

    async def wait_ready(self, deadline: float) -> None:
        """Until the API answers an authenticated request and the mail intake's port is open."""
        key = next(iter(self.api_keys.values()))
        async with httpx.AsyncClient(timeout=5) as http:
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    answer = await http.get(
                        f"{self.api_url}/api/v1/tickets?limit=1",
                        headers={"Authorization": f"Bearer {key}"},
                    )
                    if answer.status_code == 200 and port_open(self.mail_port):
                        return
                await asyncio.sleep(0.5)
        raise RuntimeError("the API or the mail intake did not come up within 120 s")

    async def stop_processes(self) -> None:
        """SIGTERM every product process (in-flight work finishes), all at once."""
        await asyncio.gather(*(process.stop() for process in self.processes))

    async def stop(self) -> None:
        await self.stop_processes()
        await self.temporal.stop()
        await self.sink.stop()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.postgres.stop)
        await asyncio.to_thread(self._closing.close)

    async def start_temporal(self) -> None:
        for attempt in range(10):
            try:
                await self.temporal.start()
                return
            except Exception as error:  # noqa: BLE001 - port still closing: try again
                if attempt == 9:
                    raise
                self.log_event("temporal_start_retry", repr(error)[:200])
                await asyncio.sleep(1.0)

    async def all_up(self) -> None:
        """Whatever the faults left down is started again, and the mail server fast again."""
        if not self.postgres.running():
            await asyncio.to_thread(self.postgres.start)
        if not self.temporal.running:
            await self.start_temporal()
        if not self.sink.running:
            await self.sink.start()
        self.sink.delay = 0.0
        for process in self.processes:
            process.resume()
