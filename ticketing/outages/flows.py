"""Outage commands with their after-commit duties: the parent watched, the outage's run told
that there is work (the pages themselves run in the OutageWorkflow, or inline without one)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.auth.principal import Principal
from ticketing.core.errors import InvalidInput
from ticketing.outages.pages import PAGE_SIZE, run_page
from ticketing.outages.schemas import (
    DeclareOutage,
    OutageDeclared,
    OutageRef,
    OutageUpdateInfo,
    PageResult,
    UpdateKind,
)
from ticketing.outages.service import OutageService
from ticketing.sla.service import utcnow
from ticketing.tickets.duties import AfterCommit, Flow
from ticketing.tickets.ports import Notices, Watchers


class OutageRuns(Protocol):
    """The durable run of each outage (OutageWorkflow): started, or told there is new work."""

    async def changed(self, outage: OutageRef) -> None:
        """Make sure the outage's run is going and sees the latest update; never sends on
        the caller's path."""


class OutageFlows(Flow):
    """Every door (HTTP, CLI, Alertmanager, activities) declares, updates and resolves here."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        principal: Principal,
        *,
        watchers: Watchers,
        notices: Notices,
        runs: OutageRuns | None = None,
    ) -> None:
        super().__init__(sessions, principal, watchers=watchers, notices=notices)
        self.runs = runs or InlineRuns(sessions, watchers=watchers, notices=notices)

    def _outages(self, session: AsyncSession) -> OutageService:
        return OutageService(session, self.principal)

    async def declare(
        self,
        request: DeclareOutage | dict[str, object],
        *,
        tenant_id: str | None = None,
        now: datetime | None = None,
    ) -> OutageDeclared:
        """Declare (or, with a known key, return) the outage; its run links and notifies."""

        async def command(session: AsyncSession, duties: AfterCommit) -> OutageDeclared:
            declared, new = await self._outages(session).declare(
                tenant_id, request, now or utcnow()
            )
            if new:
                duties.watch(declared)
            return declared

        declared = await self._committed(command)
        await self.runs.changed(
            OutageRef(tenant_id=declared.tenant_id, ticket_number=declared.ticket_number)
        )
        return declared

    async def post_update(
        self, number: str, body: str, *, key: str | None, now: datetime | None = None
    ) -> OutageUpdateInfo:
        """One update to every affected (or linked) customer; the same key answers the same."""
        return await self._posted(number, body, key, now, UpdateKind.UPDATE)

    async def resolve(
        self, number: str, body: str, *, key: str | None = None, now: datetime | None = None
    ) -> OutageUpdateInfo:
        """Resolve the parent and every linked ticket; a rerun does nothing."""
        return await self._posted(number, body, key or "resolve", now, UpdateKind.RESOLUTION)

    async def _posted(
        self, number: str, body: str, key: str | None, now: datetime | None, kind: UpdateKind
    ) -> OutageUpdateInfo:
        if key is None:
            raise InvalidInput("idempotency_key", None, "is required (the Idempotency-Key header)")
        tenant: list[str] = []

        async def command(session: AsyncSession, duties: AfterCommit) -> OutageUpdateInfo:
            service = self._outages(session)
            info, _new = await service.post_update(number, body, key, now or utcnow(), kind=kind)
            outage = await service.load(number)
            tenant.append(outage.tenant_id)
            if kind is UpdateKind.RESOLUTION:
                duties.wake(outage.ticket_id)
            return info

        info = await self._committed(command)
        # Also on a replay: a retry after a crash before this point must still reach the run.
        await self.runs.changed(OutageRef(tenant_id=tenant[0], ticket_number=info.ticket_number))
        return info

    async def page(
        self, outage: OutageRef, *, now: datetime | None = None, limit: int = PAGE_SIZE
    ) -> PageResult:
        """The next page of the outage's bulk work (the workflow's activity calls this)."""

        async def command(session: AsyncSession, duties: AfterCommit) -> PageResult:
            done = await run_page(
                session, outage.tenant_id, outage.ticket_number, now or utcnow(), limit
            )
            for ticket_id in done.touched:
                duties.wake(ticket_id)
                duties.hand_over(ticket_id)
            if done.parent is not None and done.result.notified:
                duties.hand_over(done.parent)
            return done.result

        return await self._committed(command)


class InlineRuns:
    """Without Temporal (embedding, the API's tests): the pages run right after the commit."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        watchers: Watchers,
        notices: Notices,
    ) -> None:
        self.sessions = sessions
        self.watchers = watchers
        self.notices = notices

    async def changed(self, outage: OutageRef) -> None:
        flows = OutageFlows(
            self.sessions,
            Principal.integration(outage.tenant_id, name=f"outage {outage.ticket_number}"),
            watchers=self.watchers,
            notices=self.notices,
            runs=self,
        )
        while (await flows.page(outage)).more:
            pass
