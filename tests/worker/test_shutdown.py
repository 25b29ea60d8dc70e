"""Graceful shutdown: SIGTERM lets an in-flight ticket write finish; nothing is half written."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from tests.temporal_support import running_worker, seed_tenant
from ticketing.db.metadata import Notification, Ticket, TicketEvent, TicketMessage
from ticketing.temporal.schemas import TicketInfo

Sessions = async_sessionmaker[AsyncSession]


async def counts(sessions: Sessions) -> list[int]:
    async with sessions() as session:
        return [
            (await session.execute(select(func.count()).select_from(model))).scalar_one()
            for model in (Ticket, TicketMessage, TicketEvent, Notification)
        ]


async def test_sigterm_lets_the_in_flight_create_finish(
    dev: WorkflowEnvironment, committed: Sessions, engine: AsyncEngine, database_url: str
) -> None:
    await seed_tenant(committed)
    task_queue = f"shutdown-{uuid.uuid4().hex[:8]}"
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "worker",
        env={
            **os.environ,
            "TICKETING_DATABASE_URL": database_url,
            "TEMPORAL_ADDRESS": dev.client.service_client.config.target_host,
            "TICKETING_TASK_QUEUE": task_queue,
            "TICKETING_LOG_LEVEL": "WARNING",
        },
    )
    async with engine.connect() as blocker:
        # Hold the ticket counter: the worker's create will wait on it, in flight.
        await blocker.execute(text("BEGIN"))
        await blocker.execute(text("SELECT value FROM ticket_counters FOR UPDATE"))
        handle = await dev.client.start_workflow(
            "OnboardingWorkflow",
            {"tenant_id": "acme", "customer_id": 42, "customer_email": "jane@example.com"},
            id=f"onboarding-{uuid.uuid4()}",
            task_queue=task_queue,
            result_type=TicketInfo,
        )
        for _ in range(100):  # wait until the create is blocked on our lock
            # Statistics are a per-transaction snapshot: refresh it on every look.
            await blocker.execute(text("SELECT pg_stat_clear_snapshot()"))
            waiting = await blocker.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            )
            if waiting.scalar_one() > 0:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the worker never reached the ticket write")
        worker.send_signal(signal.SIGTERM)
        await asyncio.sleep(1)
        assert worker.returncode is None  # still finishing the in-flight write
        await blocker.execute(text("COMMIT"))
    assert await asyncio.wait_for(worker.wait(), timeout=30) == 0
    # The write that was in flight landed whole: ticket, message, event, notification.
    assert await counts(committed) == [1, 1, 1, 1]
    async with running_worker(dev.client, committed, task_queue):
        ticket = await asyncio.wait_for(handle.result(), timeout=30)
    assert ticket.ticket_number == "TKT-000001"
    assert await counts(committed) == [1, 1, 1, 1]
    assert (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED
