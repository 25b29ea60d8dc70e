"""The OutageRuns port on Temporal: one OutageWorkflow per outage, told of each new update."""

from __future__ import annotations

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from ticketing.outages.schemas import OutageRef, OutageRunInput
from ticketing.temporal.names import OUTAGE_CHANGED_SIGNAL, OUTAGE_WORKFLOW, outage_workflow_id


def outage_run_input(outage: OutageRef, **options: int) -> OutageRunInput:
    return OutageRunInput(
        tenant_id=outage.tenant_id, ticket_number=outage.ticket_number, **options
    )


async def signal_outage(
    client: Client, outage: OutageRef, task_queue: str, **options: int
) -> None:
    """Signal-with-start: the running run pages the new update next; none running (a new
    outage, or one whose run finished or was lost) is started and pages from the database's
    own place. A finished run of a resolved outage started again finds nothing and ends."""
    await client.start_workflow(
        OUTAGE_WORKFLOW,
        outage_run_input(outage, **options),
        id=outage_workflow_id(outage.ticket_number),
        task_queue=task_queue,
        start_signal=OUTAGE_CHANGED_SIGNAL,
        memo={"tenant_id": outage.tenant_id},
    )


async def outage_running(client: Client, ticket_number: str) -> bool:
    """Whether a run of the outage is going (the reconciler starts one when not)."""
    handle = client.get_workflow_handle(outage_workflow_id(ticket_number))
    try:
        described = await handle.describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return described.status == WorkflowExecutionStatus.RUNNING


class TemporalOutageRuns:
    """OutageRuns on Temporal: the doors (API, CLI, webhook) return once the run is told."""

    def __init__(self, client: Client, task_queue: str, **options: int) -> None:
        """`options` (page_size, pages_per_run, idle_check_seconds) go to a run it starts."""
        self.client = client
        self.task_queue = task_queue
        self.options = options

    async def changed(self, outage: OutageRef) -> None:
        await signal_outage(self.client, outage, self.task_queue, **self.options)
