"""Resolution confirmation: the customer confirms or answers; quiet resolved tickets close."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from tests.services import Services
from tests.temporal_support import create_ticket, running_worker, seed_tenant
from ticketing.auth.principal import Principal
from ticketing.core import errors
from ticketing.notifications.mailer import Notifier
from ticketing.notifications.service import DirectDelivery
from ticketing.reconcile.schemas import ReconcileInput, ReconcileReport
from ticketing.sla import DEFAULT_POLICY, SlaPolicy
from ticketing.sla.flows import SlaFlows
from ticketing.temporal.schemas import TicketInfo, TicketStatus
from workflows.reconciler import ReconcilerWorkflow

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)
QUIET = SlaPolicy(targets=DEFAULT_POLICY.targets, auto_close_after=2 * H)


class Woken:
    """Records the watchers the sweep wakes."""

    def __init__(self) -> None:
        self.tickets: list[str] = []

    async def ensure(self, ticket: TicketInfo) -> None:
        self.tickets.append(ticket.ticket_number)

    async def wake(self, ticket: TicketInfo) -> None:
        self.tickets.append(ticket.ticket_number)


async def test_customer_confirms_a_resolution_and_may_do_nothing_else(
    service: Services, tenant: str
) -> None:
    info = await service.tickets.create_ticket({"title": "Down", "customer_id": 42}, now=T0)
    customer = service.as_(Principal.customer("acme", "42"))
    with pytest.raises(errors.Forbidden):
        await customer.tickets.change_status(info.ticket_id, "closed", now=T0 + M)
    await service.tickets.change_status(info.ticket_id, "resolved", now=T0 + H)
    with pytest.raises(errors.Forbidden):
        await customer.tickets.change_status(info.ticket_id, "open", now=T0 + 2 * H)
    closed = await customer.tickets.change_status(info.ticket_id, "closed", now=T0 + 2 * H)
    assert closed.status is TicketStatus.CLOSED
    _, events = await service.tickets.timeline(info.ticket_id)
    assert events[-1].data == {"from": "resolved", "to": "closed", "reason": "customer_confirmed"}


async def test_quiet_resolved_tickets_close_after_the_tenant_period(committed: Sessions) -> None:
    await seed_tenant(committed, policy=QUIET)
    quiet = await create_ticket(committed, T0)
    answered = await create_ticket(committed, T0)
    still_open = await create_ticket(committed, T0)
    async with committed() as session, session.begin():
        service = Services(session)
        await service.tickets.change_status(quiet.ticket_id, "resolved", now=T0 + H)
        await service.tickets.change_status(answered.ticket_id, "resolved", now=T0 + H)
        await service.as_(Principal.customer("acme", "42")).tickets.add_message(
            answered.ticket_id, body="Not fixed", now=T0 + 2 * H
        )
    woken = Woken()
    flows = SlaFlows(
        committed,
        Principal.reconciler(),
        notices=DirectDelivery(committed, Notifier()),
        watchers=woken,
    )
    assert await flows.auto_close(T0 + 2 * H + 59 * M) == 0
    assert await flows.auto_close(T0 + 3 * H) == 1
    assert await flows.auto_close(T0 + 3 * H) == 0
    assert woken.tickets == [quiet.ticket_number]
    async with committed() as session:
        statuses = [
            (await Services(session).tickets.get_ticket(t.ticket_id)).status
            for t in (quiet, answered, still_open)
        ]
    assert statuses == [TicketStatus.CLOSED, TicketStatus.OPEN, TicketStatus.OPEN]


async def test_the_reconciler_schedule_runs_the_auto_close(
    env: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed, policy=QUIET)
    t0 = await env.get_current_time()
    ticket = await create_ticket(committed, t0 - 3 * H)
    async with committed() as session, session.begin():
        await Services(session).tickets.change_status(ticket.ticket_id, "resolved", now=t0 - 3 * H)
    async with running_worker(env.client, committed) as settings:
        report: ReconcileReport = await env.client.execute_workflow(
            ReconcilerWorkflow.run,
            ReconcileInput(),
            id=f"reconcile-{uuid.uuid4()}",
            task_queue=settings.task_queue,
        )
    assert report.auto_closed == 1
    async with committed() as session:
        assert (
            await Services(session).tickets.get_ticket(ticket.ticket_id)
        ).status is TicketStatus.CLOSED


async def test_confirming_a_resolution_twice_does_nothing_the_second_time(
    service: Services, tenant: str
) -> None:
    # A double click, a second tab, a retried POST: the ticket is already what the customer
    # asked for, so the second confirmation is no change and no error (it once was Forbidden).
    info = await service.tickets.create_ticket({"title": "Down", "customer_id": 42}, now=T0)
    customer = service.as_(Principal.customer("acme", "42"))
    await service.tickets.change_status(info.ticket_id, "resolved", now=T0 + H)
    await customer.tickets.change_status(info.ticket_id, "closed", now=T0 + 2 * H)
    _, before = await service.tickets.timeline(info.ticket_id)
    again = await customer.tickets.change_status(info.ticket_id, "closed", now=T0 + 3 * H)
    _, after = await service.tickets.timeline(info.ticket_id)
    assert again.status is TicketStatus.CLOSED
    assert after == before
    # Still the only status change a customer may make: closed is not a door to reopening.
    with pytest.raises(errors.Forbidden):
        await customer.tickets.change_status(info.ticket_id, "open", now=T0 + 3 * H)
