"""The stack under test: PostgreSQL, the Temporal dev server, the mail server and the worker."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from chaos.plan import TENANTS, sla_policy_in_seconds
from chaos.smtp import FaultySmtp
from ticketing.auth.principal import Principal
from ticketing.db.embedded import (
    embedded_app_url,
    embedded_postgres_running,
    embedded_postgres_url,
    stop_embedded_postgres,
)
from ticketing.db.engine import make_engine, migrate_async
from ticketing.tenants.service import TenantService
from ticketing_ops.devstack import TemporalDevServer, find_free_port

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TASK_QUEUE = "ticketing"


class WorkerSupervisor:
    """`python -m worker` as a child process; restarted whenever it dies unless held down."""

    def __init__(self, env: dict[str, str], logs: Path, log_event: Callable[..., None]) -> None:
        self.env = env
        self.logs = logs
        self.log_event = log_event
        self.process: subprocess.Popen[bytes] | None = None
        self.held = False
        self.spawns = 0
        self.spawned_at = 0.0
        self.unexpected_exits: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def spawn(self) -> None:
        self.spawns += 1
        self.spawned_at = time.monotonic()
        log = open(self.logs / f"worker-{self.spawns:02d}.log", "wb")  # noqa: SIM115
        with log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "worker"],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def start(self) -> None:
        self.spawn()
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while not self._closing:
            await asyncio.sleep(0.2)
            process = self.process
            if self.held or process is None or process.poll() is None:
                continue
            tail = self._log_tail(self.spawns)
            lived = time.monotonic() - self.spawned_at
            self.unexpected_exits.append(
                f"pid {process.pid} rc={process.returncode} after {lived:.1f}s: {tail}"
            )
            self.log_event("worker_exit", f"worker pid {process.pid} exited rc="
                           f"{process.returncode} on its own after {lived:.1f}s; restarting "
                           f"({tail[-160:]})")
            await asyncio.sleep(1.0)
            if not self.held and not self._closing:
                self.spawn()

    def _log_tail(self, spawn: int) -> str:
        try:
            lines = (self.logs / f"worker-{spawn:02d}.log").read_text(errors="replace")
        except OSError:
            return ""
        return " | ".join(lines.strip().splitlines()[-3:])[-600:]

    async def kill(self) -> int | None:
        """SIGKILL the worker and keep it down until `resume`."""
        self.held = True
        process = self.process
        if process is None or process.poll() is not None:
            return None
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait)
        return process.pid

    def resume(self) -> int:
        self.held = False
        if self.process is None or self.process.poll() is not None:
            self.spawn()
        assert self.process is not None
        return self.process.pid

    async def stop(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)


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


async def prepare_database(url: str) -> None:
    """Migrate and register the run's partner and tenants, as the platform operator would."""
    await migrate_async(url)
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("SELECT 1"))
        async with async_sessionmaker(engine)() as session, session.begin():
            service = TenantService(session, Principal.platform(name="chaos"))
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
    finally:
        await engine.dispose()


def worker_env(app_url: str, home: Path, temporal_host: str, smtp_port: int) -> dict[str, str]:
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
        # Transient mail failures retried within seconds, for about 40 s in all: longer
        # than the outage, so only refused rows may end `failed`.
        "TICKETING_MAIL_RETRY_FIRST_DELAY": "1",
        "TICKETING_MAIL_RETRY_MAX_DELAY": "8",
        "TICKETING_MAIL_RETRY_MAX_ATTEMPTS": "8",
        "TICKETING_DISPATCH_POLL_SECONDS": "5",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("TICKETING_METRICS_PORT", None)
    return env


class Stack:
    """Everything under test, under one home, and the driver's client of the dev server."""

    def __init__(self, home: Path, log_event: Callable[..., None]) -> None:
        self.home = home
        self.log_event = log_event
        self.postgres = EmbeddedPostgres(home)
        self.temporal = TemporalDevServer(
            home, port=find_free_port(), ui_port=find_free_port(), headless=True
        )
        self.sink = FaultySmtp()
        self.worker: WorkerSupervisor | None = None
        self.client: Client | None = None

    async def start(self) -> None:
        url = await asyncio.to_thread(self.postgres.start)
        await prepare_database(url)
        # The worker connects as the app's role, as deployed: row-level security applies to
        # everything it does. The owner's URL is for set-up and the verification only.
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
        env = worker_env(app_url, self.home, self.temporal.target_host, self.sink.port)
        self.worker = WorkerSupervisor(env, self.home, self.log_event)
        await self.worker.start()

    async def stop(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
        await self.temporal.stop()
        await self.sink.stop()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.postgres.stop)

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
        assert self.worker is not None
        self.worker.resume()
