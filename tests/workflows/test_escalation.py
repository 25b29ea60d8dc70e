"""EscalationWorkflow on the time-skipping server: warnings, breaches, escalation, pauses."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import workflow
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tests.services import Services
from tests.temporal_support import (
    breaches,
    create_ticket,
    event_kinds,
    record,
    running_worker,
    seed_tenant,
)
from ticketing.notifications.mailer import Notifier
from ticketing.runtime.settings import Settings
from ticketing.temporal.schemas import EscalationResult, SlaSnapshot, TicketInfo, TicketStatus
from ticketing.temporal.watchers import (
    TICKET_PRIORITY,
    ensure_watcher,
    escalation_workflow_id,
    notify_ticket_changed,
)
from worker import build_worker

Sessions = async_sessionmaker[AsyncSession]


async def watch(env: WorkflowEnvironment, ticket: TicketInfo, task_queue: str) -> WorkflowHandle:
    await ensure_watcher(env.client, ticket, task_queue)
    return env.client.get_workflow_handle(
        escalation_workflow_id(ticket.ticket_number), result_type=EscalationResult
    )


async def settled_state(
    handle: WorkflowHandle, ready: Callable[[SlaSnapshot], bool]
) -> SlaSnapshot:
    """The watcher's state once it has handled the latest signal (bounded wait)."""
    for _ in range(100):
        state = await handle.query("sla_state", result_type=SlaSnapshot)
        if state is not None and ready(state):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"watcher state never settled: {state}")


async def change(
    env: WorkflowEnvironment,
    committed: Sessions,
    ticket: TicketInfo,
    task_queue: str,
    status: str,
) -> TicketInfo:
    async with committed() as session, session.begin():
        changed = await Services(session).tickets.change_status(
            ticket.ticket_id, status, now=await env.get_current_time()
        )
    await notify_ticket_changed(env.client, changed, task_queue)
    return changed


async def test_breaches_escalate_l1_l2_l3(env: WorkflowEnvironment, committed: Sessions) -> None:
    await seed_tenant(committed, partner=True)
    t0 = await env.get_current_time()
    ticket = await create_ticket(committed, t0, priority="urgent")  # 1 h / 4 h, 24x7
    async with running_worker(env.client, committed) as settings:
        handle = await watch(env, ticket, settings.task_queue)
        await env.sleep(timedelta(minutes=50))
        assert await breaches(committed, ticket.ticket_id) == [("first_response_warning", 1)]
        await env.sleep(timedelta(minutes=15))
        assert ("first_response", 1) in await breaches(committed, ticket.ticket_id)
        await env.sleep(timedelta(hours=3))  # t0 + 4h05: resolution breach at L1 → L2
        state: SlaSnapshot = await handle.query("sla_state", result_type=SlaSnapshot)
        assert state.escalation_level == 2
        await env.sleep(timedelta(hours=4))  # second window breached → L3
        kinds = await breaches(committed, ticket.ticket_id)
        assert kinds == [
            ("first_response_warning", 1),
            ("first_response", 1),
            ("resolution_warning", 1),
            ("resolution", 1),
            ("resolution_warning", 2),
            ("resolution", 2),
        ]
        async with committed() as session:
            final = await Services(session).tickets.get_ticket(ticket.ticket_id)
        assert final.escalation_level == 3 and final.sla_breached
        assert final.target_type == "platform"
        events = await event_kinds(committed, ticket.ticket_id)
        assert events.count("escalated") == 2
        await change(env, committed, ticket, settings.task_queue, "resolved")
        result = await handle.result()
        assert result.status is TicketStatus.RESOLVED and result.escalation_level == 3
        assert result.breaches == ["first_response@L1", "resolution@L1", "resolution@L2"]
        await record(handle, "escalation_l1_l2_l3")


async def test_resolve_before_due_completes_without_breach(
    env: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed)
    ticket = await create_ticket(committed, await env.get_current_time(), priority="high")
    async with running_worker(env.client, committed) as settings:
        handle = await watch(env, ticket, settings.task_queue)
        await env.sleep(timedelta(hours=1))
        await change(env, committed, ticket, settings.task_queue, "resolved")
        result = await handle.result()
    assert result.status is TicketStatus.RESOLVED
    assert result.breaches == [] and result.warnings == []
    assert await breaches(committed, ticket.ticket_id) == []


async def test_pending_pause_shifts_every_due_date(
    env: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed)
    t0 = await env.get_current_time()
    ticket = await create_ticket(committed, t0, priority="urgent")
    async with running_worker(env.client, committed) as settings:
        handle = await watch(env, ticket, settings.task_queue)
        await env.sleep(timedelta(minutes=10))
        await change(env, committed, ticket, settings.task_queue, "pending")
        await env.sleep(timedelta(hours=5))  # long past every original due date
        assert await breaches(committed, ticket.ticket_id) == []
        state = await handle.query("sla_state", result_type=SlaSnapshot)
        assert state.paused and state.next_at is None
        paused_for = (await env.get_current_time()) - (t0 + timedelta(minutes=10))
        await change(env, committed, ticket, settings.task_queue, "in_progress")
        state = await settled_state(handle, lambda s: not s.paused)
        assert state.first_response_due is not None and state.sla_due_date is not None
        shift = paused_for.total_seconds()
        assert (
            abs(
                (state.first_response_due - (ticket.first_response_due or t0)).total_seconds()
                - shift
            )
            < 5
        )
        assert abs((state.sla_due_date - (ticket.sla_due_date or t0)).total_seconds() - shift) < 5
        assert not state.paused
        await env.sleep(timedelta(minutes=55))
        assert [k for k, _ in await breaches(committed, ticket.ticket_id)] == [
            "first_response_warning",
            "first_response",
        ]


async def test_first_public_reply_stops_first_response_clock_internal_note_does_not(
    env: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed)
    t0 = await env.get_current_time()
    quiet = await create_ticket(committed, t0, priority="urgent", title="internal only")
    answered = await create_ticket(committed, t0, priority="urgent", title="answered")
    async with running_worker(env.client, committed) as settings:
        await watch(env, quiet, settings.task_queue)
        await watch(env, answered, settings.task_queue)
        await env.sleep(timedelta(minutes=5))
        now = await env.get_current_time()
        async with committed() as session, session.begin():
            service = Services(session)
            await service.tickets.add_message(
                quiet.ticket_id, body="looking", author_actor="tenant", is_internal=True, now=now
            )
            updated = await service.tickets.add_message(
                answered.ticket_id, body="On it", author_actor="tenant", now=now
            )
        await notify_ticket_changed(env.client, quiet, settings.task_queue)
        await notify_ticket_changed(env.client, updated, settings.task_queue)
        await env.sleep(timedelta(hours=1, minutes=5))
        assert [k for k, _ in await breaches(committed, quiet.ticket_id)] == [
            "first_response_warning",
            "first_response",
        ]
        assert await breaches(committed, answered.ticket_id) == []


async def test_reopen_starts_a_new_watcher_that_escalates_again(
    env: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed)
    ticket = await create_ticket(committed, await env.get_current_time(), priority="urgent")
    async with running_worker(env.client, committed) as settings:
        handle = await watch(env, ticket, settings.task_queue)
        await env.sleep(timedelta(hours=4, minutes=5))  # breached once: L2
        await change(env, committed, ticket, settings.task_queue, "resolved")
        first = await handle.result()
        assert first.escalation_level == 2
        await change(env, committed, ticket, settings.task_queue, "open")  # reopen
        reopened = env.client.get_workflow_handle(
            escalation_workflow_id(ticket.ticket_number), result_type=EscalationResult
        )
        desc = await reopened.describe()
        assert desc.run_id != handle.result_run_id
        await env.sleep(timedelta(hours=4, minutes=5))
        state = await settled_state(reopened, lambda s: s.escalation_level == 3)
        assert state.status is TicketStatus.OPEN
        assert [k for k, _ in await breaches(committed, ticket.ticket_id)].count("resolution") == 2


async def test_priority_change_retargets_the_timer(
    env: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed)
    t0 = await env.get_current_time()
    ticket = await create_ticket(committed, t0, priority="low")  # 24 h to first response
    async with running_worker(env.client, committed) as settings:
        await watch(env, ticket, settings.task_queue)
        await env.sleep(timedelta(minutes=30))
        async with committed() as session, session.begin():
            urgent = await Services(session).tickets.change_priority(
                ticket.ticket_id, "urgent", now=await env.get_current_time()
            )
        assert urgent.first_response_due == t0 + timedelta(hours=1)
        await notify_ticket_changed(env.client, urgent, settings.task_queue)
        await env.sleep(timedelta(minutes=35))
        handle = env.client.get_workflow_handle(escalation_workflow_id(ticket.ticket_number))
        description = await handle.describe()
        assert description.typed_search_attributes.get(TICKET_PRIORITY) == "urgent"
        assert [k for k, _ in await breaches(committed, ticket.ticket_id)] == [
            "first_response_warning",
            "first_response",
        ]


@workflow.defn(name="ReadsTheClock", sandboxed=False)
class ReadsTheClock:
    @workflow.run
    async def run(self) -> str:
        return datetime.now().isoformat()  # non-deterministic on purpose


async def test_sandbox_all_runs_unsandboxed_workflows_in_the_sandbox(
    env: WorkflowEnvironment, committed: Sessions
) -> None:
    """The watcher is unsandboxed in production; the suite relies on sandbox_all to catch a
    non-deterministic call added to it. A workflow reading the wall clock must fail there."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    settings = Settings(task_queue=queue)
    worker = build_worker(
        env.client,
        committed,
        settings,
        notifier=Notifier(),
        extra_workflows=[ReadsTheClock],
        sandbox_all=True,
    )
    async with worker:
        handle = await env.client.start_workflow(
            ReadsTheClock.run,
            id=f"clock-{queue}",
            task_queue=queue,
            execution_timeout=timedelta(seconds=30),
        )
        failure = None
        for _ in range(100):
            async for event in handle.fetch_history_events():
                if event.HasField("workflow_task_failed_event_attributes"):
                    failure = event.workflow_task_failed_event_attributes.failure.message
            if failure:
                break
            await asyncio.sleep(0.05)
        await handle.terminate()
    assert failure is not None and "datetime.now" in failure, failure
