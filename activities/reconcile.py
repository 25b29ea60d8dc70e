"""ReconcileActivities: repair what a crash or a lost signal left behind, a page at a time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.boundary import activity_boundary
from ticketing.auth.principal import Principal
from ticketing.core.enums import DONE_STATUSES
from ticketing.db.rls import bind_system
from ticketing.notifications import repository as outbox
from ticketing.outages import alert_repository as outages_repo
from ticketing.outages.schemas import OutageRef
from ticketing.reconcile.schemas import OutboxSweep, WatcherSweep, WatcherSweepResult
from ticketing.temporal.caller import CallerCheck
from ticketing.temporal.names import RECONCILER_WORKFLOW
from ticketing.temporal.outages import outage_running, signal_outage
from ticketing.temporal.schemas import TicketInfo
from ticketing.temporal.watchers import TemporalWatchers, escalation_workflow_id, watcher_state
from ticketing.tickets import repository as tickets_repo
from ticketing.tickets.numbering import format_ticket_number
from ticketing.tickets.ports import Notices
from ticketing.tickets.service import TicketService

log = structlog.get_logger(__name__)


class ReconcileActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        client: Client,
        notices: Notices,
        task_queue: str,
    ) -> None:
        self.sessions = sessions
        self.client = client
        self.notices = notices
        self.task_queue = task_queue
        self.watchers = TemporalWatchers(client, task_queue)
        self.callers = CallerCheck(client, task_queue)

    async def _require_reconciler(self, action: str) -> None:
        """Internal: only the plugin's own ReconcilerWorkflow on its own task queue."""
        async with activity_boundary():
            await self.callers.require(frozenset({RECONCILER_WORKFLOW}), action)

    @activity.defn(name="reconcile_watchers")
    async def reconcile_watchers(self, sweep: WatcherSweep) -> WatcherSweepResult:
        """One page of tickets: every open one watched by a watcher of *that* ticket, every
        done one's watcher told so it ends."""
        await self._require_reconciler("reconcile watchers")
        async with self.sessions() as session:
            bind_system(session)
            page = await tickets_repo.tickets_to_reconcile(
                session,
                after_number=sweep.after_number,
                limit=sweep.limit,
                done_since=datetime.now(UTC) - timedelta(seconds=sweep.done_within_seconds),
            )
        result = WatcherSweepResult(next_after=page[-1][1] if len(page) == sweep.limit else None)
        for ticket_id, _number, ticket_number, status in page:
            result.checked += 1
            activity.heartbeat(ticket_number)
            state = await self._watcher_state(ticket_id, ticket_number)
            done = status in DONE_STATUSES
            if state == "mine" and done:
                await self.watchers.wake(await self._ticket(ticket_id))
                result.woken += 1
            elif state == "missing" and not done:
                await self.watchers.ensure(await self._ticket(ticket_id))
                result.started += 1
            elif state == "foreign":
                await self._replace(ticket_id, ticket_number, done)
                result.replaced += 1
        if result.started or result.replaced or result.woken:
            log.warning("reconciled_watchers", **result.model_dump())
        return result

    async def _ticket(self, ticket_id: uuid.UUID) -> TicketInfo:
        async with self.sessions() as session:
            return await TicketService(session, Principal.reconciler()).get_ticket(ticket_id)

    async def _watcher_state(self, ticket_id: uuid.UUID, ticket_number: str) -> str:
        return await watcher_state(self.client, ticket_id, ticket_number, self.task_queue)

    async def _replace(self, ticket_id: uuid.UUID, ticket_number: str, done: bool) -> None:
        handle = self.client.get_workflow_handle(escalation_workflow_id(ticket_number))
        try:
            await handle.terminate(reason=f"reconciler: not the watcher of {ticket_number}")
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
        if not done:
            await self.watchers.ensure(await self._ticket(ticket_id))

    @activity.defn(name="reconcile_outbox")
    async def reconcile_outbox(self, sweep: OutboxSweep) -> int:
        """Wake (or start) the dispatcher when queued notices have been due for a while: it
        is not running, or its wake-up was lost. Returns how many were overdue."""
        await self._require_reconciler("reconcile the outbox")
        async with self.sessions() as session:
            bind_system(session)
            overdue = await outbox.count_overdue(
                session, timedelta(seconds=sweep.older_than_seconds)
            )
        if overdue:
            await self.notices.hand_over(uuid.UUID(int=0))
            log.warning("reconciled_outbox", notices=overdue)
        return overdue

    @activity.defn(name="reconcile_outages")
    async def reconcile_outages(self, limit: int) -> int:
        """Every outage with an update not yet sent to everyone has its OutageWorkflow told
        (signal-with-start): one lost with its worker or its door is started again, one idle
        after a lost signal pages now. Returns how many were not running."""
        await self._require_reconciler("reconcile outages")
        started, after = 0, None
        while True:
            async with self.sessions() as session:
                bind_system(session)
                page = await outages_repo.unsent_outages(session, after, limit)
            for outage in page:
                number = format_ticket_number(outage.number)
                activity.heartbeat(number)
                if not await outage_running(self.client, number):
                    started += 1
                await signal_outage(
                    self.client,
                    OutageRef(tenant_id=outage.tenant_id, ticket_number=number),
                    self.task_queue,
                )
            if len(page) < limit:
                break
            after = page[-1].number
        if started:
            log.warning("reconciled_outages", started=started)
        return started
