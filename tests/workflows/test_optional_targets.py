"""A priority without an SLA (`"low": null`) under a running watcher (time-skipping server,
PostgreSQL): no due dates, no warnings or breaches however long it waits, while a normal ticket
of the same tenant breaches; the watcher still ends when the ticket is done."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from tests.services import Services
from tests.temporal_support import breaches, create_ticket, record, running_worker, seed_tenant
from ticketing.sla import DEFAULT_POLICY
from ticketing.temporal.schemas import EscalationResult, SlaSnapshot, TicketStatus
from ticketing.temporal.watchers import (
    ensure_watcher,
    escalation_workflow_id,
    notify_ticket_changed,
)

Sessions = async_sessionmaker[AsyncSession]
NO_SLA_FOR_LOW = replace(DEFAULT_POLICY, targets={**DEFAULT_POLICY.targets, "low": None})


async def test_a_low_ticket_without_targets_never_breaches(
    env: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed, policy=NO_SLA_FOR_LOW)
    t0 = await env.get_current_time()
    low = await create_ticket(committed, t0, priority="low")
    normal = await create_ticket(committed, t0, priority="normal")  # 8 h / 72 h, 24x7
    assert low.first_response_due is None and low.sla_due_date is None
    assert normal.first_response_due == t0 + timedelta(hours=8)
    async with running_worker(env.client, committed) as settings:
        for ticket in (low, normal):
            await ensure_watcher(env.client, ticket, settings.task_queue)
        handle = env.client.get_workflow_handle(
            escalation_workflow_id(low.ticket_number), result_type=EscalationResult
        )
        await env.sleep(timedelta(days=4))
        assert await breaches(committed, low.ticket_id) == []
        assert [k for k, _ in await breaches(committed, normal.ticket_id)] == [
            "first_response_warning",
            "first_response",
            "resolution_warning",
            "resolution",
        ]
        state = await handle.query("sla_state", result_type=SlaSnapshot)
        assert state is not None and state.next_at is None
        assert state.first_response_due is None and state.sla_due_date is None
        async with committed() as session, session.begin():
            done = await Services(session).tickets.change_status(
                low.ticket_id, "resolved", now=await env.get_current_time()
            )
        assert done.first_response_due is None and done.sla_due_date is None
        await notify_ticket_changed(env.client, done, settings.task_queue)
        result = await handle.result()
        assert result.status is TicketStatus.RESOLVED
        assert result.breaches == [] and result.warnings == []
        await record(handle, "escalation_no_sla_for_low")
