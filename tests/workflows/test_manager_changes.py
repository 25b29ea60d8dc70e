"""A support manager's changes under a running watcher (time-skipping server, PostgreSQL):
a type change re-targets the due dates and wakes the watcher."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from tests.services import Services
from tests.temporal_support import breaches, create_ticket, event_kinds, running_worker, seed_tenant
from ticketing.auth.principal import Principal
from ticketing.core.errors import InvalidInput, MissingServiceAddress
from ticketing.notifications.service import QueueOnly
from ticketing.temporal.schemas import EscalationResult
from ticketing.temporal.watchers import TemporalWatchers, ensure_watcher, escalation_workflow_id
from ticketing.tickets.flows import TicketFlows

Sessions = async_sessionmaker[AsyncSession]
H = timedelta(hours=1)
M = timedelta(minutes=1)


async def test_a_type_change_moves_the_due_time_and_wakes_the_watcher(
    env: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed)
    t0 = await env.get_current_time()
    # A general inquiry at normal priority: 8 h to first response (the built-in policy).
    ticket = await create_ticket(committed, t0, priority="normal")
    assert ticket.first_response_due == t0 + 8 * H
    async with running_worker(env.client, committed) as settings:
        watchers = TemporalWatchers(env.client, settings.task_queue)
        await ensure_watcher(env.client, ticket, settings.task_queue)
        await env.sleep(30 * M)
        flows = TicketFlows(
            committed,
            Principal.tenant_agent("acme", name="ann"),
            watchers=watchers,
            notices=QueueOnly(),
        )
        # It turns out to be an outage report: 1 h to first response, 24x7.
        outage = await flows.change_type(
            ticket.ticket_id, "outage_report", now=await env.get_current_time()
        )
        assert outage.ticket_type.value == "outage_report"
        assert outage.first_response_due == t0 + H
        assert outage.sla_due_date == t0 + 4 * H
        # Only the flow woke the watcher: without it, it would sleep to the 8 h threshold.
        await env.sleep(35 * M)
        assert [k for k, _ in await breaches(committed, ticket.ticket_id)] == [
            "first_response_warning",
            "first_response",
        ]
    assert "type_changed" in await event_kinds(committed, ticket.ticket_id)


async def test_type_changes_are_refused_naming_the_field(
    session: AsyncSession, tenant: str
) -> None:
    service = Services(session).for_tenant("acme")
    ticket = await service.tickets.create_ticket({"title": "Slow", "customer_id": 42})
    with pytest.raises(InvalidInput) as bad:
        await service.tickets.change_type(ticket.ticket_id, "fault")
    assert bad.value.field == "ticket_type"
    with pytest.raises(MissingServiceAddress) as missing:
        await service.tickets.change_type(ticket.ticket_id, "installation_request")
    assert missing.value.field == "ticket_type"
    same = await service.tickets.change_type(ticket.ticket_id, "general_inquiry")
    _, events = await service.tickets.timeline(ticket.ticket_id)
    assert same.ticket_type.value == "general_inquiry"
    assert "type_changed" not in [e.kind for e in events]


async def test_a_merge_ends_the_duplicates_watcher(
    env: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed)
    t0 = await env.get_current_time()
    first = await create_ticket(committed, t0, title="By mail")
    second = await create_ticket(committed, t0, title="By chat")
    async with running_worker(env.client, committed) as settings:
        watchers = TemporalWatchers(env.client, settings.task_queue)
        await ensure_watcher(env.client, first, settings.task_queue)
        await ensure_watcher(env.client, second, settings.task_queue)
        flows = TicketFlows(
            committed,
            Principal.tenant_agent("acme", name="ann"),
            watchers=watchers,
            notices=QueueOnly(),
        )
        await flows.merge(second.ticket_number, first.ticket_number, now=t0)
        ended = await env.client.get_workflow_handle(
            escalation_workflow_id(second.ticket_number), result_type=EscalationResult
        ).result()
        survivor = await env.client.get_workflow_handle(
            escalation_workflow_id(first.ticket_number)
        ).describe()
    assert ended.status.value == "closed"
    assert survivor.status is not None and survivor.status.name == "RUNNING"
