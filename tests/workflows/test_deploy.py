"""Workflow safety across deploys: a watcher started on the last release finishes on this one."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.notifications import NotificationActivities
from activities.tickets import TicketActivities
from tests.services import Services
from tests.temporal_support import (
    TEST_CLOCK_SKEW,
    breaches,
    create_ticket,
    running_worker,
    seed_tenant,
)
from tests.workflows.legacy.escalation_v0 import EscalationWorkflowV0
from ticketing.notifications.mailer import Notifier
from ticketing.temporal.caller import CallerCheck
from ticketing.temporal.schemas import EscalationResult, TicketInfo, TicketStatus
from ticketing.temporal.watchers import (
    TICKET_PRIORITY,
    ensure_watcher,
    escalation_workflow_id,
    notify_ticket_changed,
)
from workflows.dispatcher import DispatcherWorkflow

Sessions = async_sessionmaker[AsyncSession]


async def test_watcher_from_previous_release_finishes_on_new_code(
    env: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed)
    ticket = await create_ticket(committed, await env.get_current_time(), priority="low")
    task_queue = "deploy-test"
    acts = TicketActivities(
        committed,
        client=env.client,
        notifier=Notifier(),
        task_queue=task_queue,
        max_clock_skew=timedelta(seconds=TEST_CLOCK_SKEW),
    )
    # The queue's dispatcher runs beside the old watcher, as it would after the upgrade that
    # introduced it: the activities ring it whatever release the watcher is on.
    dispatcher = NotificationActivities(
        committed, Notifier(), callers=CallerCheck(env.client, task_queue)
    )
    # No sticky cache on the old worker: the time-skipping server does not time out a sticky
    # queue whose worker has gone, so the handover would stall there (a real cluster does).
    old_release = Worker(
        env.client,
        task_queue=task_queue,
        workflows=[EscalationWorkflowV0, DispatcherWorkflow],
        activities=[*acts.all(), dispatcher.dispatch_notifications],
        max_cached_workflows=0,
    )
    async with old_release:
        await ensure_watcher(env.client, ticket, task_queue)
        await env.sleep(timedelta(hours=20))  # low: 24 h to first response; warning at 18 h
        # The priority changes while the old release runs: its history has the new snapshot
        # but no search-attribute upsert, which the new code must replay exactly.
        await set_priority(env, committed, ticket, "urgent", task_queue)
        await env.sleep(timedelta(minutes=5))
    # Urgent re-targets to 1 h / 4 h after creation, both long past: breach, then L2.
    assert [k for k, _ in await breaches(committed, ticket.ticket_id)] == [
        "first_response_warning",
        "first_response",
        "resolution_warning",
        "resolution",
    ]
    handle = env.client.get_workflow_handle(
        escalation_workflow_id(ticket.ticket_number), result_type=EscalationResult
    )
    # Deploy: the old worker is gone, the new release picks the sleeping watcher up.
    async with running_worker(env.client, committed, task_queue):
        await set_priority(env, committed, ticket, "high", task_queue)
        await env.sleep(timedelta(minutes=5))
        # The patch stays off for the rest of a run begun on the old code (patched() is
        # memoised per run); the attribute follows again after the next continue-as-new.
        description = await handle.describe()
        assert description.typed_search_attributes.get(TICKET_PRIORITY) == "low"
        async with committed() as session, session.begin():
            resolved = await Services(session).tickets.change_status(
                ticket.ticket_id, "resolved", now=await env.get_current_time()
            )
        await notify_ticket_changed(env.client, resolved, task_queue)
        result = await handle.result()
    assert result.status is TicketStatus.RESOLVED
    history = await handle.fetch_history()
    task_failures = [
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    ]
    assert task_failures == []
    kinds = [k for k, _ in await breaches(committed, ticket.ticket_id)]
    assert kinds.count("first_response") == 1


async def set_priority(
    env: WorkflowEnvironment,
    committed: Sessions,
    ticket: TicketInfo,
    priority: str,
    task_queue: str,
) -> None:
    async with committed() as session, session.begin():
        changed = await Services(session).tickets.change_priority(
            ticket.ticket_id, priority, now=await env.get_current_time()
        )
    await notify_ticket_changed(env.client, changed, task_queue)
