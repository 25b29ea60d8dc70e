"""The reconciler repairs each kind of drift, each broken here on purpose first."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from tests.services import Services
from tests.temporal_support import running_worker, seed_tenant
from ticketing.auth.principal import Principal
from ticketing.db.metadata import Notification
from ticketing.notifications.mailer import Notifier
from ticketing.notifications.service import DirectDelivery
from ticketing.reconcile.schemas import OutboxSweep, ReconcileInput, ReconcileReport
from ticketing.temporal.schemas import EscalationInput, TicketInfo
from ticketing.temporal.watchers import TemporalWatchers, escalation_workflow_id
from ticketing.tickets.flows import TicketFlows
from worker import ensure_reconciler_schedule
from workflows.reconciler import RECONCILER_SCHEDULE, ReconcilerWorkflow

Sessions = async_sessionmaker[AsyncSession]


async def watcher_ticket(client: Client, ticket: TicketInfo) -> tuple[str, str | None]:
    """(status, ticket id in the memo) of the workflow under the ticket's watcher id."""
    described = await client.get_workflow_handle(
        escalation_workflow_id(ticket.ticket_number)
    ).describe()
    assert described.status is not None
    return described.status.name, (await described.memo()).get("ticket_id")


async def until_watching(client: Client, ticket: TicketInfo) -> None:
    """Wait for the watcher's first read, so a change after this is one it must be told of."""
    handle = client.get_workflow_handle(escalation_workflow_id(ticket.ticket_number))
    for _ in range(200):
        if await handle.query("sla_state") is not None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{ticket.ticket_number}: the watcher never read its ticket")


async def unsent(sessions: Sessions, ticket: TicketInfo) -> int:
    async with sessions() as session:
        rows = await session.execute(
            select(Notification.id).where(
                Notification.ticket_id == ticket.ticket_id, Notification.sent_at.is_(None)
            )
        )
        return len(list(rows.scalars()))


async def test_reconciler_repairs_each_kind_of_drift(
    dev: WorkflowEnvironment, committed: Sessions
) -> None:
    client = dev.client
    await seed_tenant(committed)
    async with running_worker(client, committed) as settings:
        queue = settings.task_queue
        flows = TicketFlows(
            committed,
            Principal.platform(),
            watchers=TemporalWatchers(client, queue),
            notices=DirectDelivery(committed, Notifier()),
        )

        async def service_only(title: str) -> TicketInfo:
            """Committed, then the process 'crashed' before any after-commit duty."""
            async with committed() as session, session.begin():
                return await Services(session).tickets.create_ticket(
                    {"title": title, "customer_id": 42}
                )

        # 1. A deleted watcher.
        deleted = await flows.create({"title": "deleted watcher", "customer_id": 42})
        await client.get_workflow_handle(escalation_workflow_id(deleted.ticket_number)).terminate(
            reason="test: break it"
        )
        # 2. A dropped signal: resolved in the database, the watcher never told.
        dropped = await flows.create({"title": "dropped signal", "customer_id": 42})
        await until_watching(client, dropped)
        async with committed() as session, session.begin():
            await Services(session).tickets.change_status(dropped.ticket_id, "resolved")
        # 3. A killed send and a missing watcher: committed, nothing after.
        crashed = await service_only("killed send")
        assert await unsent(committed, crashed) == 1
        # 4. A squatter: a watcher under the ticket's id, watching another ticket, on a queue
        # none of our workers polls (on ours it would end itself: it checks its ticket).
        squatted = await service_only("squatted")
        await client.start_workflow(
            "EscalationWorkflow",
            EscalationInput(ticket_id=deleted.ticket_id, ticket_number=squatted.ticket_number),
            id=escalation_workflow_id(squatted.ticket_number),
            task_queue=f"{queue}-squatter",
        )

        report: ReconcileReport = await client.execute_workflow(
            ReconcilerWorkflow.run,
            ReconcileInput(outbox=OutboxSweep(older_than_seconds=0)),
            id=f"reconcile-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )
        assert (report.started, report.woken, report.replaced) == (2, 1, 1)
        assert report.notices_handed_over >= 1

        assert await watcher_ticket(client, deleted) == ("RUNNING", str(deleted.ticket_id))
        assert await watcher_ticket(client, crashed) == ("RUNNING", str(crashed.ticket_id))
        assert await watcher_ticket(client, squatted) == ("RUNNING", str(squatted.ticket_id))
        result = await client.get_workflow_handle(
            escalation_workflow_id(dropped.ticket_number)
        ).result()
        assert result["status"] == "resolved"
        # The reconciler woke the dispatcher; it delivers on its own schedule (bounded wait).
        for _ in range(100):
            if await unsent(committed, crashed) == 0:
                break
            await asyncio.sleep(0.1)
        assert await unsent(committed, crashed) == 0

        # A second run finds nothing left to repair.
        again: ReconcileReport = await client.execute_workflow(
            ReconcilerWorkflow.run,
            ReconcileInput(outbox=OutboxSweep(older_than_seconds=0)),
            id=f"reconcile-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )
        assert (again.started, again.woken, again.replaced, again.notices_handed_over) == (
            0,
            0,
            0,
            0,
        )


async def test_the_worker_registers_the_reconciler_schedule_once(dev: WorkflowEnvironment) -> None:
    from ticketing.runtime.settings import Settings

    settings = Settings(task_queue=f"q-{uuid.uuid4().hex[:6]}", reconcile_every=60)
    await ensure_reconciler_schedule(dev.client, settings)
    await ensure_reconciler_schedule(dev.client, settings)  # a second worker: no error
    handle = dev.client.get_schedule_handle(f"{RECONCILER_SCHEDULE}-{settings.task_queue}")
    described = await handle.describe()
    assert described.schedule.spec.intervals[0].every.total_seconds() == 60
    await handle.delete()


async def test_a_created_ticket_s_notice_leaves_before_any_threshold(
    dev: WorkflowEnvironment, committed: Sessions
) -> None:
    """The created notice goes out with the create itself, not with the first SLA threshold."""
    await seed_tenant(committed)
    async with running_worker(dev.client, committed) as settings:
        flows = TicketFlows(
            committed,
            Principal.integration("acme"),
            watchers=TemporalWatchers(dev.client, settings.task_queue),
            notices=DirectDelivery(committed, Notifier()),
        )
        before = datetime.now(UTC)
        ticket = await flows.create({"title": "Router dead", "customer_id": 42})
        async with committed() as session:
            sent_at = (
                await session.execute(
                    select(Notification.sent_at).where(
                        Notification.ticket_id == ticket.ticket_id,
                        Notification.kind == "ticket_created",
                    )
                )
            ).scalar_one()
        assert sent_at is not None and sent_at >= before
        assert ticket.first_response_due is not None and sent_at < ticket.first_response_due
        status, memo = await watcher_ticket(dev.client, ticket)
        assert (status, memo) == (WorkflowExecutionStatus.RUNNING.name, str(ticket.ticket_id))
