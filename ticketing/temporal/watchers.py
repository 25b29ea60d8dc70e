"""Keep exactly one EscalationWorkflow per ticket and wake it when the ticket changes."""

from __future__ import annotations

import uuid
from datetime import timedelta
from enum import StrEnum

import structlog
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from ticketing.temporal import names
from ticketing.temporal.names import ESCALATION_WORKFLOW, escalation_workflow_id
from ticketing.temporal.schemas import EscalationInput, SlaSnapshot, TicketInfo

log = structlog.get_logger(__name__)
QUERY_TIMEOUT = timedelta(seconds=5)

TICKET_NUMBER = SearchAttributeKey.for_keyword("TicketNumber")
TENANT_ID = SearchAttributeKey.for_keyword("TenantId")
TICKET_PRIORITY = SearchAttributeKey.for_keyword("TicketPriority")


def watcher_memo(ticket: TicketInfo) -> dict[str, str]:
    """Which ticket a watcher was started for, readable by `describe` without a query."""
    return {"ticket_id": str(ticket.ticket_id), "tenant_id": ticket.tenant_id}


def ticket_search_attributes(ticket: TicketInfo) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(TICKET_NUMBER, ticket.ticket_number),
            SearchAttributePair(TENANT_ID, ticket.tenant_id),
            SearchAttributePair(TICKET_PRIORITY, ticket.priority.value),
        ]
    )


class WatcherState(StrEnum):
    MINE = "mine"  # running, watching this ticket
    MISSING = "missing"  # none running
    FOREIGN = "foreign"  # running under the ticket's id, for another ticket or task queue


def escalation_input(ticket: TicketInfo) -> EscalationInput:
    return EscalationInput(
        ticket_id=ticket.ticket_id, ticket_number=ticket.ticket_number, tenant_id=ticket.tenant_id
    )


async def _start(
    client: Client, ticket: TicketInfo, task_queue: str, policy: WorkflowIDConflictPolicy
) -> None:
    await client.start_workflow(
        ESCALATION_WORKFLOW,
        escalation_input(ticket),
        id=escalation_workflow_id(ticket.ticket_number),
        task_queue=task_queue,
        id_conflict_policy=policy,
        search_attributes=ticket_search_attributes(ticket),
        memo=watcher_memo(ticket),
    )


async def ensure_watcher(client: Client, ticket: TicketInfo, task_queue: str) -> None:
    """Start the ticket's watcher; one already watching it is kept (retries start nothing new),
    one squatting its id (another ticket, another task queue) is replaced."""
    try:
        await _start(client, ticket, task_queue, WorkflowIDConflictPolicy.FAIL)
        return
    except WorkflowAlreadyStartedError:
        pass
    state = await watcher_state(client, ticket.ticket_id, ticket.ticket_number, task_queue)
    if state is WatcherState.FOREIGN:
        log.warning("watcher_squatted", ticket_number=ticket.ticket_number, replaced=True)
        await _start(client, ticket, task_queue, WorkflowIDConflictPolicy.TERMINATE_EXISTING)
    elif state is WatcherState.MISSING:
        await _start(client, ticket, task_queue, WorkflowIDConflictPolicy.USE_EXISTING)


async def watcher_state(
    client: Client, ticket_id: uuid.UUID, ticket_number: str, task_queue: str
) -> WatcherState:
    """Whether the workflow under the ticket's watcher id is the watcher of *that* ticket."""
    handle = client.get_workflow_handle(escalation_workflow_id(ticket_number))
    try:
        described = await handle.describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return WatcherState.MISSING
        raise
    if described.status != WorkflowExecutionStatus.RUNNING:
        return WatcherState.MISSING
    if described.workflow_type != ESCALATION_WORKFLOW or described.task_queue != task_queue:
        return WatcherState.FOREIGN
    memo = await described.memo()
    if "ticket_id" in memo:
        return WatcherState.MINE if memo["ticket_id"] == str(ticket_id) else WatcherState.FOREIGN
    # Watchers started before the memo existed: ask the watcher itself.
    try:
        snapshot = await handle.query(
            names.SLA_STATE_QUERY, result_type=SlaSnapshot, rpc_timeout=QUERY_TIMEOUT
        )
    except RPCError:
        return WatcherState.FOREIGN
    mine = snapshot is None or snapshot.ticket_id == ticket_id
    return WatcherState.MINE if mine else WatcherState.FOREIGN


async def notify_ticket_changed(client: Client, ticket: TicketInfo, task_queue: str) -> None:
    """Signal the watcher; start a new one if it has ended (a reopened ticket is watched again)."""
    await client.start_workflow(
        ESCALATION_WORKFLOW,
        escalation_input(ticket),
        id=escalation_workflow_id(ticket.ticket_number),
        task_queue=task_queue,
        start_signal=names.TICKET_CHANGED_SIGNAL,
        search_attributes=ticket_search_attributes(ticket),
        memo=watcher_memo(ticket),
    )


def search_attribute_updates(ticket: TicketInfo) -> list[SearchAttributeUpdate]:
    """The same attributes, for a workflow that learns its ticket after it started."""
    return [pair.key.value_set(pair.value) for pair in ticket_search_attributes(ticket)]


async def register_search_attributes(client: Client) -> None:
    """Register the ticket search attributes in the client's namespace (dev and test servers)."""
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={
                    key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
                    for key in (TICKET_NUMBER, TENANT_ID, TICKET_PRIORITY)
                },
            )
        )
    except RPCError as error:
        if error.status != RPCStatusCode.ALREADY_EXISTS:
            raise


class TemporalWatchers:
    """The Watchers port on Temporal: one EscalationWorkflow per ticket."""

    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    async def ensure(self, ticket: TicketInfo) -> None:
        await ensure_watcher(self.client, ticket, self.task_queue)

    async def wake(self, ticket: TicketInfo) -> None:
        await notify_ticket_changed(self.client, ticket, self.task_queue)
