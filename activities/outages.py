"""OutageActivities: one page of an outage's bulk work per call, one transaction each."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.boundary import activity_boundary
from activities.heartbeat import heartbeating
from ticketing.auth.principal import Principal
from ticketing.core.errors import Forbidden
from ticketing.outages.flows import OutageFlows, OutageRuns
from ticketing.outages.schemas import OutagePageInput, OutageRef, PageResult
from ticketing.temporal.caller import CallerCheck
from ticketing.temporal.names import OUTAGE_PAGE_ACTIVITY, OUTAGE_WORKFLOW, outage_workflow_id
from ticketing.tickets.ports import Notices, Watchers


class _NoRun:
    """Inside the run itself nothing more is to be told: the run pages until done."""

    async def changed(self, outage: OutageRef) -> None:
        return None


class OutageActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        watchers: Watchers,
        notices: Notices,
        callers: CallerCheck,
    ) -> None:
        self.sessions = sessions
        self.watchers = watchers
        self.notices = notices
        self.callers = callers
        self.runs: OutageRuns = _NoRun()

    @activity.defn(name=OUTAGE_PAGE_ACTIVITY)
    async def outage_page(self, input: OutagePageInput) -> PageResult:
        """Internal (the OutageWorkflow's): the next page of the outage's oldest update not yet
        sent to everyone. Pages keep their place in the database, so a retried or repeated
        call neither skips nor repeats a customer."""
        async with activity_boundary():
            caller = await self.callers.require(frozenset({OUTAGE_WORKFLOW}), "page outages")
            # The run is bound to its outage by its id: it pages that outage and no other.
            if caller.workflow_id != outage_workflow_id(input.ticket_number):
                raise Forbidden("page another outage")
            flows = OutageFlows(
                self.sessions,
                Principal.integration(input.tenant_id, name=f"outage {input.ticket_number}"),
                watchers=self.watchers,
                notices=self.notices,
                runs=self.runs,
            )
            outage = OutageRef(tenant_id=input.tenant_id, ticket_number=input.ticket_number)
            # A page is one transaction that cannot heartbeat from inside: a task beside it does.
            async with heartbeating():
                return await flows.page(outage, limit=input.limit)
