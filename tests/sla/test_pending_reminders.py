"""Waiting on the customer: a pending ticket is reminded once, then closed, on time
(PostgreSQL; the reconciler's workflow on the time-skipping server)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from tests.services import Services
from tests.temporal_support import create_ticket, running_worker, seed_tenant
from ticketing.auth.principal import Principal
from ticketing.core.errors import InvalidInput
from ticketing.notifications.models import Notification
from ticketing.notifications.service import QueueOnly
from ticketing.reconcile.schemas import ReconcileInput, ReconcileReport
from ticketing.sla import DEFAULT_POLICY, SlaPolicy
from ticketing.sla.flows import SlaFlows
from ticketing.sla.policy_document import parse_policy_document
from ticketing.temporal.schemas import TicketInfo, TicketStatus
from workflows.reconciler import ReconcilerWorkflow

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
S = timedelta(seconds=1)
WAITING = SlaPolicy(
    targets=DEFAULT_POLICY.targets, pending_reminder_after=24 * H, pending_close_after=72 * H
)


class Woken:
    def __init__(self) -> None:
        self.tickets: list[str] = []

    async def ensure(self, ticket: TicketInfo) -> None:
        self.tickets.append(ticket.ticket_number)

    async def wake(self, ticket: TicketInfo) -> None:
        self.tickets.append(ticket.ticket_number)


async def notices(sessions: Sessions, ticket: TicketInfo) -> list[str]:
    async with sessions() as session:
        rows = await session.execute(
            select(Notification.kind)
            .where(Notification.ticket_id == ticket.ticket_id)
            .order_by(Notification.id)
        )
        return [str(kind) for kind in rows.scalars()]


async def status(sessions: Sessions, ticket: TicketInfo) -> TicketStatus:
    async with sessions() as session:
        return (await Services(session).tickets.get_ticket(ticket.ticket_id)).status


async def test_a_pending_ticket_is_reminded_then_closed_on_time(committed: Sessions) -> None:
    await seed_tenant(committed, policy=WAITING)
    waiting = await create_ticket(committed, T0)
    answered = await create_ticket(committed, T0)
    async with committed() as session, session.begin():
        service = Services(session)
        for ticket in (waiting, answered):
            await service.tickets.change_status(ticket.ticket_id, "pending", now=T0 + H)
        await service.as_(Principal.customer("acme", "42")).tickets.add_message(
            answered.ticket_id, body="Here is the photo", now=T0 + 2 * H
        )
    woken = Woken()
    flows = SlaFlows(committed, Principal.reconciler(), notices=QueueOnly(), watchers=woken)
    assert await flows.auto_close(T0 + 25 * H - S) == 0
    assert "pending_reminder" not in await notices(committed, waiting)
    assert await flows.auto_close(T0 + 25 * H) == 0
    assert await flows.auto_close(T0 + 40 * H) == 0  # reminded once per wait
    assert (await notices(committed, waiting)).count("pending_reminder") == 1
    assert await status(committed, waiting) is TicketStatus.PENDING
    assert await flows.auto_close(T0 + 73 * H - S) == 0
    assert await flows.auto_close(T0 + 73 * H) == 1
    assert await flows.auto_close(T0 + 80 * H) == 0
    assert await status(committed, waiting) is TicketStatus.CLOSED
    assert (await notices(committed, waiting)).count("pending_closed") == 1
    assert woken.tickets == [waiting.ticket_number]
    # The customer answered: no longer waiting, never reminded nor closed.
    assert await status(committed, answered) is TicketStatus.IN_PROGRESS or (
        await status(committed, answered) is TicketStatus.OPEN
    )
    assert "pending_reminder" not in await notices(committed, answered)
    async with committed() as session:
        _, events = await Services(session).tickets.timeline(waiting.ticket_id)
    assert [e.kind for e in events].count("reminded") == 1


async def test_a_new_wait_is_reminded_again(committed: Sessions) -> None:
    await seed_tenant(committed, policy=WAITING)
    ticket = await create_ticket(committed, T0)
    flows = SlaFlows(committed, Principal.reconciler(), notices=QueueOnly(), watchers=Woken())
    async with committed() as session, session.begin():
        await Services(session).tickets.change_status(ticket.ticket_id, "pending", now=T0)
    await flows.auto_close(T0 + 25 * H)
    async with committed() as session, session.begin():
        service = Services(session)
        await service.tickets.change_status(ticket.ticket_id, "in_progress", now=T0 + 26 * H)
        await service.tickets.change_status(ticket.ticket_id, "pending", now=T0 + 27 * H)
    await flows.auto_close(T0 + 52 * H)
    assert (await notices(committed, ticket)).count("pending_reminder") == 2


def test_the_policy_document_takes_the_pending_periods_and_checks_their_order() -> None:
    document = parse_policy_document(
        {
            "targets": {
                p: {"first_response_seconds": 60, "resolution_seconds": 120}
                for p in ("low", "normal", "high", "urgent")
            },
            "pending_reminder_after_seconds": 86400,
            "pending_close_after_seconds": 259200,
        }
    )
    policy = document.to_policy()
    assert (policy.pending_reminder_after, policy.pending_close_after) == (24 * H, 72 * H)
    with pytest.raises(InvalidInput) as caught:
        parse_policy_document({**document.model_dump(), "pending_reminder_after_seconds": 259200})
    assert caught.value.field == "pending_close_after_seconds"


async def test_the_reconciler_schedule_closes_a_forgotten_wait(
    env: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed, policy=WAITING)
    t0 = await env.get_current_time()
    ticket = await create_ticket(committed, t0 - 80 * H)
    async with committed() as session, session.begin():
        await Services(session).tickets.change_status(ticket.ticket_id, "pending", now=t0 - 79 * H)
    async with running_worker(env.client, committed) as settings:
        report: ReconcileReport = await env.client.execute_workflow(
            ReconcilerWorkflow.run,
            ReconcileInput(),
            id=f"reconcile-{uuid.uuid4()}",
            task_queue=settings.task_queue,
        )
    assert report.auto_closed == 1
    assert await status(committed, ticket) is TicketStatus.CLOSED
