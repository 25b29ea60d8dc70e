"""A watcher id squatted before its ticket exists: the real ticket still gets its own watcher."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.temporal_support import create_ticket, seed_tenant
from ticketing.auth.principal import Principal
from ticketing.notifications.mailer import Notifier
from ticketing.notifications.service import DirectDelivery
from ticketing.runtime.settings import Settings
from ticketing.temporal.schemas import CreateTicketRequest, EscalationInput, SlaSnapshot, TicketInfo
from ticketing.temporal.watchers import TemporalWatchers, escalation_workflow_id
from ticketing.tickets.flows import TicketFlows
from ticketing_ops.cli.tickets import query_sla
from worker import build_worker

Sessions = async_sessionmaker[AsyncSession]
OUR_QUEUE = "ticketing-squat"


async def own_sla(client: Client, ticket: TicketInfo) -> SlaSnapshot:
    """What `ticket show` displays as the ticket's SLA, once its watcher has read it."""
    for _ in range(200):
        snapshot = await query_sla(client, ticket.ticket_number)
        if snapshot is not None:
            return snapshot
        await asyncio.sleep(0.05)
    raise AssertionError(f"{ticket.ticket_number}: the watcher never read its ticket")


async def create_through_flows(client: Client, sessions: Sessions) -> TicketInfo:
    flows = TicketFlows(
        sessions,
        Principal.integration("acme", name="workflow"),
        watchers=TemporalWatchers(client, OUR_QUEUE),
        notices=DirectDelivery(sessions, Notifier()),
    )
    return await flows.create(CreateTicketRequest(title="Mine", customer_id="42", tenant_id="acme"))


@pytest.mark.parametrize("squatter_queue", ["another-service", OUR_QUEUE])
async def test_a_squatted_watcher_id_is_replaced_at_create(
    dev: WorkflowEnvironment, committed: Sessions, squatter_queue: str
) -> None:
    """On a queue nobody of ours polls the squatter would sleep forever holding the id; on our
    own queue it runs our code, which refuses to watch a ticket its id does not name."""
    await seed_tenant(committed, tenant_id="globex", customer_id="7")
    await seed_tenant(committed, tenant_id="acme", customer_id="42")
    theirs = await create_ticket(committed, datetime.now(UTC), tenant_id="globex", customer_id=7)
    client = dev.client
    expected_number = "TKT-000002"
    squatter = await client.start_workflow(
        "EscalationWorkflow",
        EscalationInput(ticket_id=theirs.ticket_id, ticket_number=expected_number),
        id=escalation_workflow_id(expected_number),
        task_queue=squatter_queue,
        memo={"ticket_id": str(theirs.ticket_id), "tenant_id": "globex"},
    )
    async with build_worker(client, committed, Settings(task_queue=OUR_QUEUE), notifier=Notifier()):
        mine = await create_through_flows(client, committed)
        assert mine.ticket_number == expected_number
        snapshot = await own_sla(client, mine)
        described = await client.get_workflow_handle(
            escalation_workflow_id(mine.ticket_number)
        ).describe()
    assert (snapshot.ticket_id, snapshot.tenant_id) == (mine.ticket_id, "acme")
    assert described.task_queue == OUR_QUEUE
    assert (await described.memo())["ticket_id"] == str(mine.ticket_id)
    assert described.run_id != squatter.result_run_id
    with pytest.raises(WorkflowFailureError):
        await squatter.result()


async def test_a_watcher_refuses_a_ticket_its_id_does_not_name(
    dev: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed, tenant_id="globex", customer_id="7")
    theirs = await create_ticket(committed, datetime.now(UTC), tenant_id="globex", customer_id=7)
    client = dev.client
    mismatched = {
        "id names another number": EscalationInput(
            ticket_id=theirs.ticket_id, ticket_number=theirs.ticket_number, tenant_id="globex"
        ),
        "ticket is another number": EscalationInput(
            ticket_id=theirs.ticket_id, ticket_number="TKT-000009"
        ),
        "ticket is another tenant's": EscalationInput(
            ticket_id=theirs.ticket_id, ticket_number=theirs.ticket_number, tenant_id="acme"
        ),
    }
    ids = {
        "id names another number": "escalation-TKT-000009",
        "ticket is another number": "escalation-TKT-000009",
        "ticket is another tenant's": escalation_workflow_id(theirs.ticket_number),
    }
    causes: dict[str, str | None] = {}
    async with build_worker(client, committed, Settings(task_queue=OUR_QUEUE), notifier=Notifier()):
        for case, input in mismatched.items():
            handle = await client.start_workflow(
                "EscalationWorkflow", input, id=ids[case], task_queue=OUR_QUEUE
            )
            with pytest.raises(WorkflowFailureError) as failed:
                await handle.result()
            cause = failed.value.cause
            while cause.__cause__ is not None and not isinstance(cause, ApplicationError):
                cause = cause.__cause__  # type: ignore[assignment]
            causes[case] = cause.type if isinstance(cause, ApplicationError) else None
    assert causes == {
        "id names another number": "WatcherMismatch",
        # Refused by the activity before the workflow could compare: bound to its id's number.
        "ticket is another number": "TicketNotFound",
        "ticket is another tenant's": "WatcherMismatch",
    }
