"""OutageWorkflow on a Temporal dev server with a real worker and PostgreSQL: it pages each
update out in batches, continues as new when its page bound is reached, takes a new update's
signal, finishes once resolved and everything is sent; the reconciler restarts a lost run."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from tests.temporal_support import record, running_worker
from ticketing.auth.principal import Principal
from ticketing.core.enums import TicketStatus
from ticketing.notifications.service import QueueOnly
from ticketing.outages.flows import OutageFlows
from ticketing.outages.schemas import OutageRef, PageResult, default_update_key
from ticketing.reconcile.schemas import ReconcileInput
from ticketing.temporal.names import outage_workflow_id
from ticketing.temporal.outages import TemporalOutageRuns, outage_running
from ticketing.tenants.service import TenantService
from ticketing.tickets.flows import TicketFlows
from ticketing.tickets.ports import NoWatchers
from ticketing.tickets.service import TicketService
from workflows.reconciler import ReconcilerWorkflow

Sessions = async_sessionmaker[AsyncSession]
TAG = "cabinet:B12"


async def seed(sessions: Sessions, customers: int) -> None:
    async with sessions() as s, s.begin():
        tenants = TenantService(s, Principal.platform())
        await tenants.register_tenant("acme", name="Acme ISP", support_email="desk@acme.test")
        for n in range(1, customers + 1):
            await tenants.upsert_customer(
                tenant_id="acme",
                customer_id=str(n),
                email=f"c{n}@example.com",
                tags=[TAG] if n % 2 else ["cabinet:other"],
            )


async def sent_everything(sessions: Sessions, number: str) -> None:
    """Until the outage's every update reached every customer (the run's pages are done)."""
    for _ in range(600):
        async with sessions() as s:
            row = await s.execute(
                text("SELECT seq, sent_seq FROM outages WHERE number = :n"),
                {"n": int(number.removeprefix("TKT-"))},
            )
            seq, sent = row.one()
        if sent >= seq:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{number}: pages never finished")


async def mails(sessions: Sessions) -> Counter[tuple[str, str]]:
    async with sessions() as s:
        rows = await s.execute(
            text(
                "SELECT recipient, payload->>'body' FROM notifications"
                " WHERE kind IN ('outage_update', 'outage_resolved', 'support_replied')"
            )
        )
        return Counter((r[0], r[1]) for r in rows)


async def runs_of(client: Client, workflow_id: str) -> list[str]:
    """The run ids under the workflow id, oldest first (continue-as-new makes more)."""
    found = [w async for w in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    return [w.run_id for w in sorted(found, key=lambda w: w.start_time)]


async def test_the_run_pages_updates_continues_as_new_and_ends_when_resolved(
    dev: WorkflowEnvironment, committed: Sessions
) -> None:
    client = dev.client
    await seed(committed, 25)  # 13 carry the tag
    async with running_worker(client, committed) as settings:
        admin = Principal.tenant_admin("acme", name="noc")
        runs = TemporalOutageRuns(client, settings.task_queue, page_size=4, pages_per_run=3)
        flows = OutageFlows(committed, admin, watchers=NoWatchers(), notices=QueueOnly(), runs=runs)
        tickets = TicketFlows(
            committed, Principal.integration("acme"), watchers=NoWatchers(), notices=QueueOnly()
        )
        before = await tickets.create(
            {"title": "down", "description": "!", "customer_id": "3", "tenant_id": "acme"}
        )
        declared = await flows.declare(
            {"title": "Cabinet B12", "description": "Engineers on site", "tags": [TAG]}
        )
        number = declared.ticket_number
        workflow_id = outage_workflow_id(number)
        await sent_everything(committed, number)

        body = "Splicing done at 80%"
        key = default_update_key(number, body)
        await flows.post_update(number, body, key=key)
        await flows.post_update(number, body, key=key)  # a rerun: nothing twice
        await sent_everything(committed, number)
        await flows.resolve(number, "Back online")
        handle = client.get_workflow_handle(workflow_id, result_type=PageResult)
        result = await handle.result()  # follows the runs to the last one
        assert result.finished and not result.more

        counted = await mails(committed)
        tagged = [f"c{n}@example.com" for n in range(1, 26, 2)]
        for text_ in ("Engineers on site", body, "Back online"):
            assert sorted(r for (r, b), k in counted.items() if b == text_) == sorted(tagged)
        assert set(counted.values()) == {1}
        async with committed() as s:
            done = await TicketService(s, admin).get_ticket(before.ticket_id)
        assert done.status is TicketStatus.RESOLVED and done.outage == number

        # 4 + 4 + 4 + 1 pages per update at 3 pages a run: several runs, chained.
        chain = await runs_of(client, workflow_id)
        assert len(chain) >= 4
        first = client.get_workflow_handle(workflow_id, run_id=chain[0])
        history = await first.fetch_history()
        assert history.events[-1].event_type == (
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        )
        activities = [
            e
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        ]
        assert len(activities) == 3  # pages, never customers
        signals = 0
        for run in chain:
            events = (
                await client.get_workflow_handle(workflow_id, run_id=run).fetch_history()
            ).events
            signals += sum(
                1
                for e in events
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
            )
        assert 3 <= signals <= 4  # declare, update (twice: a replayed key still rings), resolve
        await record(client.get_workflow_handle(workflow_id, run_id=chain[-1]), "outage")
        described = await handle.describe()
        assert described.status == WorkflowExecutionStatus.COMPLETED


async def test_the_reconciler_starts_a_lost_run_with_unsent_work(
    dev: WorkflowEnvironment, committed: Sessions
) -> None:
    client = dev.client
    await seed(committed, 9)

    class Lost:
        """The door committed, then crashed before telling the run."""

        async def changed(self, outage: OutageRef) -> None:
            return None

    admin = Principal.tenant_admin("acme", name="noc")
    flows = OutageFlows(committed, admin, watchers=NoWatchers(), notices=QueueOnly(), runs=Lost())
    declared = await flows.declare({"title": "OLT", "description": "Looking", "tags": [TAG]})
    async with running_worker(client, committed) as settings:
        assert not await outage_running(client, declared.ticket_number)
        report = await client.execute_workflow(
            ReconcilerWorkflow.run,
            ReconcileInput(),
            id="reconcile-outages-test",
            task_queue=settings.task_queue,
        )
        assert report.outage_runs_started == 1
        await sent_everything(committed, declared.ticket_number)
        assert sum((await mails(committed)).values()) == 5
        again = await client.execute_workflow(
            ReconcilerWorkflow.run,
            ReconcileInput(),
            id="reconcile-outages-test-2",
            task_queue=settings.task_queue,
        )
        assert again.outage_runs_started == 0
