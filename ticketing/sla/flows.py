"""SLA commands with their after-commit duties: notices handed over, watchers woken."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.auth.principal import Principal, Role
from ticketing.core.enums import TicketStatus
from ticketing.db.rls import bind_scope
from ticketing.sla import repository as repo
from ticketing.sla.bounds import CallerBounds
from ticketing.sla.policy_document import SlaPolicyDocument
from ticketing.sla.policy_service import SlaPolicyService
from ticketing.sla.schemas import BreachResult, SlaSnapshot
from ticketing.sla.service import BreachOutcome, SlaService
from ticketing.tickets.duties import AfterCommit, Flow
from ticketing.tickets.flows import TicketFlows
from ticketing.tickets.ports import Notices, Watchers
from ticketing.tickets.schemas import TicketInfo
from ticketing.tickets.service import TicketService


class SlaFlows(Flow):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        principal: Principal,
        *,
        notices: Notices,
        watchers: Watchers,
        bounds: CallerBounds | None = None,
    ) -> None:
        super().__init__(sessions, principal, watchers=watchers, notices=notices)
        self.bounds = bounds

    def _service(self, session: AsyncSession) -> SlaService:
        return SlaService(session, self.principal, bounds=self.bounds)

    async def snapshot(self, ticket_id: uuid.UUID, now: datetime) -> SlaSnapshot:
        async with self.sessions() as session, session.begin():
            return await self._service(session).sla_snapshot(ticket_id, now=now)

    async def record_threshold(
        self, ticket_id: uuid.UUID, kind: str, now: datetime
    ) -> BreachResult:
        """Record the threshold (idempotent) with its notices queued, then hand them over.

        Only queued: the dispatcher sends them, so mail never delays the next threshold.
        """

        async def command(session: AsyncSession, duties: AfterCommit) -> BreachOutcome:
            outcome = await self._service(session).record_threshold(ticket_id, kind, now=now)
            if outcome.recorded:
                duties.hand_over(outcome.snapshot.ticket_id)
            return outcome

        outcome = await self._committed(command)
        return BreachResult(
            recorded=outcome.recorded,
            escalated=outcome.escalated,
            notification_ids=outcome.notification_ids,
            snapshot=outcome.snapshot,
        )

    async def escalate(self, ticket_id: uuid.UUID, from_level: int, now: datetime) -> TicketInfo:

        async def command(session: AsyncSession, duties: AfterCommit) -> TicketInfo:
            row, _ = await self._service(session).escalate(
                ticket_id, from_level=from_level, now=now
            )
            duties.hand_over(row.id)
            return await TicketService(session, self.principal).get_ticket(row.id)

        return await self._committed(command)

    async def policy(self, tenant_id: str) -> SlaPolicyDocument:
        async with self.sessions() as session, session.begin():
            return await SlaPolicyService(session, self.principal).policy_document(tenant_id)

    async def set_policy(
        self,
        tenant_id: str,
        document: SlaPolicyDocument | Mapping[str, object] | str | bytes,
        *,
        now: datetime | None = None,
    ) -> SlaPolicyDocument:
        """Replace the tenant's policy, re-target its open tickets, then wake their watchers."""

        async def command(session: AsyncSession, duties: AfterCommit) -> SlaPolicyDocument:
            stored, moved = await SlaPolicyService(session, self.principal).set_policy(
                tenant_id, document, now=now
            )
            for moved_id in moved:
                duties.wake(moved_id)
            return stored

        return await self._committed(command)

    async def retarget(self, tenant_id: str, *, now: datetime | None = None) -> int:
        """After a calendar edit: re-target the tenant's open tickets and wake their watchers."""

        async def command(session: AsyncSession, duties: AfterCommit) -> int:
            moved = await SlaPolicyService(session, self.principal).retarget_open_tickets(
                tenant_id, now=now
            )
            for moved_id in moved:
                duties.wake(moved_id)
            return len(moved)

        return await self._committed(command)

    async def auto_close(self, now: datetime, *, limit: int = 200) -> int:
        """Close resolved tickets nobody answered within their tenant's quiet period, then
        the waits on customers past the policy's pending close, then remind those past its
        pending reminder; each ticket in its own transaction, then its watcher woken and its
        notices handed over. Returns how many tickets closed."""
        async with self.sessions() as session:
            bind_scope(session, self.principal)
            due = await repo.quiet_resolved(session, now=now, limit=limit)
        closed = 0
        for ticket_id in due:
            closed += await self._committed(partial(_close_if_quiet, ticket_id, now))
        tickets = TicketFlows(
            self.sessions, self.principal, watchers=self.watchers, notices=self.notices
        )
        return closed + await tickets.sweep_pending(now, limit=limit)


async def _close_if_quiet(
    ticket_id: uuid.UUID, now: datetime, session: AsyncSession, duties: AfterCommit
) -> int:
    """Close one resolved ticket still quiet under its row lock; 1 if it was closed."""
    if not await repo.lock_if_quiet(session, ticket_id, now):
        return 0
    system = Principal(Role.SYSTEM, ticket_id=ticket_id, name="auto-close")
    ticket = await TicketService(session, system).change_status(
        ticket_id, TicketStatus.CLOSED, now=now
    )
    duties.changed(ticket)
    return 1
