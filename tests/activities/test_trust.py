"""The outside caller: another service's workflow, on its own task queue, calling by name."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.tickets import TicketActivities
from tests.temporal_support import create_ticket, seed_tenant
from ticketing.notifications.mailer import Notifier
from ticketing.runtime.settings import Settings
from ticketing.temporal.schemas import RecordBreachInput, TicketInfo
from worker import build_worker

Sessions = async_sessionmaker[AsyncSession]
OUR_QUEUE = "ticketing-trust"
OUTSIDE_QUEUE = "another-service"
WATCHED_TABLES = (
    "tenants",
    "customers",
    "tickets",
    "ticket_messages",
    "ticket_events",
    "sla_breaches",
    "notifications",
)


class Call(BaseModel):
    activity: str
    arg: dict[str, Any]
    task_queue: str = OUR_QUEUE


class Refusal(BaseModel):
    """What the outside workflow saw: the failure's type and whether it is final."""

    type: str | None
    non_retryable: bool
    message: str


@workflow.defn(name="OutsideCaller")
class OutsideCaller:
    """Another service's workflow calling this plugin's activities by name with plain JSON."""

    @workflow.run
    async def run(self, call: Call) -> Refusal | None:
        return await call_by_name(call)


@workflow.defn(name="EscalationWorkflow")
class ImpersonatedWatcher:
    """Registered under the watcher's name, with a watcher's id, on another task queue."""

    @workflow.run
    async def run(self, call: Call) -> Refusal | None:
        return await call_by_name(call)


async def call_by_name(call: Call) -> Refusal | None:
    try:
        await workflow.execute_activity(
            call.activity,
            call.arg,
            task_queue=call.task_queue,
            start_to_close_timeout=timedelta(seconds=30),
            # Two attempts: a retryable refusal would show as attempts spent, not as final.
            retry_policy=RetryPolicy(maximum_attempts=2, initial_interval=timedelta(seconds=1)),
        )
    except ActivityError as error:
        cause = error.cause
        if isinstance(cause, ApplicationError):
            return Refusal(type=cause.type, non_retryable=cause.non_retryable, message=str(cause))
        return Refusal(type=type(cause).__name__, non_retryable=False, message=str(cause))
    return None


async def database_rows(sessions: Sessions) -> dict[str, list[str]]:
    """Every row of every table an activity could change, as JSON text."""
    rows: dict[str, list[str]] = {}
    async with sessions() as session:
        for table in WATCHED_TABLES:
            result = await session.execute(text(f"SELECT to_jsonb(t)::text FROM {table} t"))
            rows[table] = sorted(result.scalars())
    return rows


async def seed_two_tenants(sessions: Sessions) -> tuple[TicketInfo, TicketInfo]:
    await seed_tenant(sessions, tenant_id="acme", customer_id="42")
    await seed_tenant(sessions, tenant_id="globex", customer_id="7")
    now = datetime.now(UTC)
    acme = await create_ticket(
        sessions,
        now,
        tenant_id="acme",
        idempotency_key="onboarding:acme:42",
        priority="urgent",
        description="acme's private notes",
    )
    globex = await create_ticket(sessions, now, tenant_id="globex", customer_id=7)
    return acme, globex


def attacks(acme: TicketInfo) -> dict[str, Call]:
    ticket = str(acme.ticket_id)
    return {
        "create_ticket without tenant_id": Call(
            activity="create_ticket", arg={"title": "x", "customer_id": 42}
        ),
        "register_tenant rewriting an email": Call(
            activity="register_tenant",
            arg={"tenant_id": "acme", "support_email": "attacker@evil.test"},
        ),
        "upsert_customer rewriting an email": Call(
            activity="upsert_customer",
            arg={"tenant_id": "acme", "customer_id": "42", "email": "attacker@evil.test"},
        ),
        "open_ticket": Call(
            activity="open_ticket",
            arg={
                "customer": {"tenant_id": "acme", "customer_id": "42", "email": "a@evil.test"},
                "request": {"title": "x", "customer_id": "42", "tenant_id": "acme"},
            },
        ),
        "record_breach in 2099": Call(
            activity="record_breach",
            arg={"ticket_id": ticket, "kind": "resolution", "now": "2099-01-01T00:00:00Z"},
        ),
        "escalate_ticket": Call(
            activity="escalate_ticket",
            arg={"ticket_id": ticket, "from_level": 1, "now": datetime.now(UTC).isoformat()},
        ),
        "sla_snapshot": Call(
            activity="sla_snapshot",
            arg={"ticket_id": ticket, "now": datetime.now(UTC).isoformat()},
        ),
        "change_ticket_status": Call(
            activity="change_ticket_status",
            arg={"ticket_id": ticket, "status": "closed", "now": datetime.now(UTC).isoformat()},
        ),
        "reconcile_watchers": Call(activity="reconcile_watchers", arg={}),
    }


async def run_outside(client: Client, workflow_name: str, call: Call, id: str) -> Refusal | None:
    return await client.execute_workflow(  # type: ignore[no-any-return]
        workflow_name, call, id=id, task_queue=OUTSIDE_QUEUE, result_type=Refusal | None
    )


async def test_outside_callers_are_refused_and_change_nothing(
    dev: WorkflowEnvironment, committed: Sessions
) -> None:
    acme, _ = await seed_two_tenants(committed)
    client = dev.client
    ours = build_worker(client, committed, Settings(task_queue=OUR_QUEUE), notifier=Notifier())
    outside = Worker(
        client,
        task_queue=OUTSIDE_QUEUE,
        workflows=[OutsideCaller, ImpersonatedWatcher],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    before = await database_rows(committed)
    async with ours, outside:
        refusals = {
            name: await run_outside(client, "OutsideCaller", call, f"outside-{uuid.uuid4()}")
            for name, call in attacks(acme).items()
        }
        # The watcher's own name and id, but its run lives on another service's task queue.
        impersonated = await run_outside(
            client,
            "EscalationWorkflow",
            attacks(acme)["record_breach in 2099"],
            f"escalation-{acme.ticket_number}",
        )
    assert await database_rows(committed) == before
    expected = {name: "Forbidden" for name in refusals}
    expected["create_ticket without tenant_id"] = "InvalidInput"
    assert {name: r.type if r else None for name, r in refusals.items()} == expected
    assert all(r is not None and r.non_retryable for r in refusals.values()), refusals
    assert impersonated is not None
    assert (impersonated.type, impersonated.non_retryable) == ("Forbidden", True)


async def test_another_tenants_idempotency_key_never_returns_its_ticket(
    dev: WorkflowEnvironment, committed: Sessions
) -> None:
    acme, _ = await seed_two_tenants(committed)
    client = dev.client
    ours = build_worker(client, committed, Settings(task_queue=OUR_QUEUE), notifier=Notifier())
    async with ours:
        ticket = await _create_from_outside(client)
    assert ticket.tenant_id == "globex"
    assert ticket.ticket_id != acme.ticket_id
    assert ticket.description != acme.description


async def _create_from_outside(client: Client) -> TicketInfo:
    outside = Worker(
        client,
        task_queue=OUTSIDE_QUEUE,
        workflows=[OutsideCreate],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    async with outside:
        return await client.execute_workflow(  # type: ignore[no-any-return]
            "OutsideCreate",
            {
                "title": "Mine",
                "customer_id": 7,
                "tenant_id": "globex",
                "idempotency_key": "onboarding:acme:42",
            },
            id=f"outside-{uuid.uuid4()}",
            task_queue=OUTSIDE_QUEUE,
            result_type=TicketInfo,
        )


@workflow.defn(name="OutsideCreate")
class OutsideCreate:
    @workflow.run
    async def run(self, request: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await workflow.execute_activity(
            "create_ticket",
            request,
            task_queue=OUR_QUEUE,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )
        return result


def as_watcher(number: str) -> ActivityEnvironment:
    """An activity context as the watcher's local activities see it."""
    env = ActivityEnvironment()
    env.info = replace(
        env.info,
        workflow_type="EscalationWorkflow",
        workflow_id=f"escalation-{number}",
        is_local=True,
    )
    return env


async def test_a_watchers_now_is_held_near_the_database_clock(committed: Sessions) -> None:
    acme, globex = await seed_two_tenants(committed)
    activities = TicketActivities(committed, client=None, notifier=Notifier(), task_queue=OUR_QUEUE)
    before = await database_rows(committed)
    forged = RecordBreachInput(
        ticket_id=acme.ticket_id, kind="resolution", now=datetime(2099, 1, 1, tzinfo=UTC)
    )
    with pytest.raises(ApplicationError) as refused:
        await as_watcher(acme.ticket_number).run(activities.record_breach, forged)
    assert (refused.value.type, refused.value.non_retryable) == ("InvalidInput", True)
    assert "now" in str(refused.value)
    # The watcher of one ticket cannot act on another, even with a plausible clock.
    other = RecordBreachInput(ticket_id=globex.ticket_id, kind="resolution", now=datetime.now(UTC))
    with pytest.raises(ApplicationError) as wrong_ticket:
        await as_watcher(acme.ticket_number).run(activities.record_breach, other)
    assert (wrong_ticket.value.type, wrong_ticket.value.non_retryable) == ("TicketNotFound", True)
    assert await database_rows(committed) == before
    # Within the bound it works: not due yet, so nothing is recorded.
    honest = forged.model_copy(update={"now": datetime.now(UTC) + timedelta(minutes=1)})
    outcome = await as_watcher(acme.ticket_number).run(activities.record_breach, honest)
    assert not outcome.recorded
