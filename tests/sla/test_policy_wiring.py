"""Policy edits and customer answers move running watchers (time-skipping server, PostgreSQL)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from activities.tickets import TicketActivities
from tests.services import Services
from tests.temporal_support import (
    TEST_CLOCK_SKEW,
    breaches,
    create_ticket,
    running_worker,
    seed_tenant,
)
from ticketing.auth.principal import Principal
from ticketing.notifications.mailer import Notifier
from ticketing.notifications.service import DirectDelivery
from ticketing.runtime.settings import Settings
from ticketing.sla.flows import SlaFlows
from ticketing.temporal.schemas import EscalationResult, TicketInfo, TicketStatus
from ticketing.temporal.watchers import TemporalWatchers, ensure_watcher, escalation_workflow_id
from ticketing.tickets.flows import TicketFlows
from worker import build_worker

Sessions = async_sessionmaker[AsyncSession]
H = timedelta(hours=1)
M = timedelta(minutes=1)


def document(normal_first_response: int) -> dict[str, Any]:
    def targets(first: int, resolution: int) -> dict[str, int]:
        return {"first_response_seconds": first, "resolution_seconds": resolution}

    return {
        "targets": {
            "low": targets(86400, 432000),
            "normal": targets(normal_first_response, 259200),
            "high": targets(14400, 86400),
            "urgent": targets(3600, 14400),
        }
    }


async def test_policy_edit_moves_due_dates_and_the_watcher_fires_on_the_new_time(
    env: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed)
    t0 = await env.get_current_time()
    ticket = await create_ticket(committed, t0, priority="normal")  # 8 h to first response
    done = await create_ticket(committed, t0, priority="normal")
    async with committed() as session, session.begin():
        await Services(session).tickets.change_status(done.ticket_id, "resolved", now=t0)
    assert ticket.first_response_due == t0 + 8 * H
    async with running_worker(env.client, committed) as settings:
        await ensure_watcher(env.client, ticket, settings.task_queue)
        await env.sleep(H)
        flows = SlaFlows(
            committed,
            Principal.tenant_admin("acme"),
            notices=DirectDelivery(committed, Notifier()),
            watchers=TemporalWatchers(env.client, settings.task_queue),
        )
        stored = await flows.set_policy("acme", document(normal_first_response=2 * 3600))
        assert stored.targets.normal.first_response_seconds == 7200
        async with committed() as session:
            moved = await Services(session).tickets.get_ticket(ticket.ticket_id)
            untouched = await Services(session).tickets.get_ticket(done.ticket_id)
        assert moved.first_response_due == t0 + 2 * H
        assert untouched.first_response_due == done.first_response_due
        # Under the old policy nothing was due before t0 + 6 h (the 75 % warning).
        await env.sleep(H + 35 * M)
        assert await breaches(committed, ticket.ticket_id) == [
            ("first_response_warning", 1),
            ("first_response", 1),
        ]
        assert (await flows.policy("acme")).targets.normal.first_response_seconds == 7200


async def test_customer_answer_resumes_the_clock_of_a_watched_ticket(
    env: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed)
    t0 = await env.get_current_time()
    ticket = await create_ticket(committed, t0, priority="urgent")  # 1 h / 4 h
    async with running_worker(env.client, committed) as settings:
        watchers = TemporalWatchers(env.client, settings.task_queue)
        flows = TicketFlows(
            committed,
            Principal.platform(),
            watchers=watchers,
            notices=DirectDelivery(committed, Notifier()),
        )
        await ensure_watcher(env.client, ticket, settings.task_queue)
        await flows.reply(ticket.ticket_id, body="Which router?", author_actor="tenant", now=t0)
        await flows.change_status(ticket.ticket_id, "pending", now=t0)
        await env.sleep(10 * H)  # waiting on the customer: no resolution warning or breach
        assert await breaches(committed, ticket.ticket_id) == []
        customer = TicketFlows(
            committed,
            Principal.customer("acme", "42"),
            watchers=watchers,
            notices=DirectDelivery(committed, Notifier()),
        )
        answered = await customer.reply(
            ticket.ticket_id, body="The blue one", now=await env.get_current_time()
        )
        assert answered.status is TicketStatus.IN_PROGRESS
        await env.sleep(4 * H + M)  # the clock runs again: 4 h of resolution time left
        assert await breaches(committed, ticket.ticket_id) == [
            ("resolution_warning", 1),
            ("resolution", 1),
        ]


async def test_watcher_result_keeps_a_threshold_whose_activity_was_retried(
    env: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed)
    t0 = await env.get_current_time()
    ticket = await create_ticket(committed, t0, priority="urgent")
    interceptor = LoseFirstResult()
    # The time-skipping server's clock runs hours ahead of the database's.
    settings = Settings(task_queue=f"test-{uuid.uuid4().hex[:8]}", max_clock_skew=TEST_CLOCK_SKEW)
    worker = build_worker(
        env.client,
        committed,
        settings,
        notifier=Notifier(),
        sandbox_all=True,
        interceptors=[interceptor],
    )
    async with worker:
        await ensure_watcher(env.client, ticket, settings.task_queue)
        await env.sleep(H + M)
        async with committed() as session, session.begin():
            await Services(session).tickets.change_status(
                ticket.ticket_id, "resolved", now=t0 + H + M
            )
        await TemporalWatchers(env.client, settings.task_queue).wake(
            await _info(committed, ticket.ticket_id)
        )
        handle = env.client.get_workflow_handle(
            escalation_workflow_id(ticket.ticket_number), result_type=EscalationResult
        )
        result = await handle.result()
    assert interceptor.attempts == [1, 2]
    assert result.breaches == ["first_response@L1"]
    assert result.warnings == ["first_response_warning@L1"]


class LoseFirstResult(Interceptor):
    """The first attempt of the first-response breach commits, then its result is lost."""

    def __init__(self) -> None:
        self.attempts: list[int] = []

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        outer = self

        class Inbound(ActivityInboundInterceptor):
            async def execute_activity(self, input: ExecuteActivityInput) -> Any:
                result = await super().execute_activity(input)
                info = activity.info()
                if info.activity_type == "record_breach" and input.args[0].kind == "first_response":
                    outer.attempts.append(info.attempt)
                    if info.attempt == 1:
                        raise RuntimeError("worker lost the result after the commit")
                return result

        return Inbound(next)


async def _info(committed: Sessions, ticket_id: Any) -> Any:
    async with committed() as session:
        return await Services(session).tickets.get_ticket(ticket_id)


async def test_register_activity_takes_the_same_document(committed: Sessions) -> None:
    await seed_tenant(committed)
    activities = TicketActivities(committed, client=None, notifier=Notifier(), task_queue="q")
    # As an onboarding workflow of this plugin calls it (a local activity in its worker).
    onboarding = ActivityEnvironment()
    onboarding.info = replace(
        onboarding.info, workflow_type="OnboardingWorkflow", workflow_id="o-1", is_local=True
    )

    async def register(document: dict[str, Any]) -> str:
        return await onboarding.run(
            activities.register_tenant, {"tenant_id": "acme", "sla_policy": document}
        )

    await register(document(7200))
    flows = SlaFlows(
        committed,
        Principal.platform(),
        notices=DirectDelivery(committed, Notifier()),
        watchers=TemporalWatchersUnused(),
    )
    assert (await flows.policy("acme")).targets.normal.first_response_seconds == 7200
    bad = document(7200)
    bad["targets"]["urgent"]["first_response_seconds"] = 0
    with pytest.raises(ApplicationError) as caught:
        await register(bad)
    assert caught.value.type == "InvalidInput"
    assert caught.value.details[0]["field"] == "sla_policy.targets.urgent.first_response_seconds"


class TemporalWatchersUnused:
    """Reading a policy wakes nothing."""

    async def ensure(self, ticket: TicketInfo) -> None:
        raise AssertionError("not expected")

    async def wake(self, ticket: TicketInfo) -> None:
        raise AssertionError("not expected")
