"""A ticket created over HTTP gets what every channel gets: its running watcher (a real
Temporal dev server and worker) and its created notice."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from tests.temporal_support import running_worker
from tests.web.support import api_app, clear_keys, seed
from ticketing.core.enums import NoticeKind
from ticketing.db.metadata import Notification
from ticketing.temporal.watchers import TemporalWatchers, escalation_workflow_id


async def test_http_ticket_has_its_watcher_and_created_notice(
    dev: WorkflowEnvironment,
    committed: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
) -> None:
    keys = await seed(committed)
    async with running_worker(dev.client, committed) as settings:
        app = api_app(committed, TemporalWatchers(dev.client, settings.task_queue))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            created = await client.post(
                "/api/v1/tickets",
                json={"title": "Fibre cut", "customer_id": 42, "priority": "urgent"},
                headers={**keys.auth("integration"), "Idempotency-Key": "crm-991"},
            )
        assert created.status_code == 201, created.text
        ticket = created.json()
        handle = dev.client.get_workflow_handle(escalation_workflow_id(ticket["ticket_number"]))
        description = await handle.describe()
        assert description.status is WorkflowExecutionStatus.RUNNING
        assert (await description.memo())["ticket_id"] == ticket["ticket_id"]
    async with committed() as session:
        notices = (
            await session.execute(
                select(Notification.kind, Notification.recipient).where(
                    Notification.ticket_id == ticket["ticket_id"]
                )
            )
        ).all()
    assert (NoticeKind.TICKET_CREATED, "jane@a.test") in [tuple(n) for n in notices]
    await clear_keys(engine)
