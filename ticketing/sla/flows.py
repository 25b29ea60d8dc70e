"""SLA commands with their after-commit duties: notices handed over, watchers woken."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.auth.principal import Principal, Role
from ticketing.core.enums import TicketStatus
from ticketing.db.rls import bind_scope
from ticketing.sla import repository as repo
from ticketing.sla.bounds import CallerBounds
from ticketing.sla.document import SlaPolicyDocument
from ticketing.sla.policies import SlaPolicyService
from ticketing.sla.schemas import BreachResult, SlaSnapshot
from ticketing.sla.service import SlaService
from ticketing.tickets.ports import Notices, Watchers
from ticketing.tickets.schemas import TicketInfo
from ticketing.tickets.service import TicketService


class SlaFlows:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        principal: Principal,
        *,
        notices: Notices,
        watchers: Watchers,
        bounds: CallerBounds | None = None,
    ) -> None:
        self.sessions = sessions
        self.principal = principal
        self.notices = notices
        self.watchers = watchers
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
        async with self.sessions() as session, session.begin():
            outcome = await self._service(session).record_breach(ticket_id, kind, now=now)
        if outcome.recorded:
            await self.notices.hand_over(outcome.snapshot.ticket_id)
        return BreachResult(
            recorded=outcome.recorded,
            escalated=outcome.escalated,
            notification_ids=outcome.notification_ids,
            snapshot=outcome.snapshot,
        )

    async def escalate(self, ticket_id: uuid.UUID, from_level: int, now: datetime) -> TicketInfo:
        async with self.sessions() as session, session.begin():
            row, _ = await self._service(session).escalate(
                ticket_id, from_level=from_level, now=now
            )
            ticket = await TicketService(session, self.principal).get_ticket(row.id)
        await self.notices.hand_over(ticket.ticket_id)
        return ticket

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
        async with self.sessions() as session, session.begin():
            stored, moved = await SlaPolicyService(session, self.principal).set_policy(
                tenant_id, document, now=now
            )
        await self.wake(moved)
        return stored

    async def retarget(self, tenant_id: str, *, now: datetime | None = None) -> int:
        """After a calendar edit: re-target the tenant's open tickets and wake their watchers."""
        async with self.sessions() as session, session.begin():
            moved = await SlaPolicyService(session, self.principal).retarget_open_tickets(
                tenant_id, now=now
            )
        await self.wake(moved)
        return len(moved)

    async def wake(self, ticket_ids: list[uuid.UUID]) -> None:
        """Wake each ticket's watcher so it sleeps until its new threshold, not the old one."""
        for ticket_id in ticket_ids:
            async with self.sessions() as session:
                ticket = await TicketService(session, self.principal).get_ticket(ticket_id)
            await self.watchers.wake(ticket)

    async def auto_close(self, now: datetime, *, limit: int = 200) -> int:
        """Close resolved tickets nobody answered within their tenant's quiet period; each in
        its own transaction, then its watcher woken and its notices handed over."""
        async with self.sessions() as session:
            bind_scope(session, self.principal)
            due = await repo.quiet_resolved(session, now=now, limit=limit)
        closed = 0
        for ticket_id in due:
            system = Principal(Role.SYSTEM, ticket_id=ticket_id, name="auto-close")
            async with self.sessions() as session, session.begin():
                if not await repo.lock_if_quiet(session, ticket_id, now):
                    continue
                ticket = await TicketService(session, system).change_status(
                    ticket_id, TicketStatus.CLOSED, now=now
                )
            await self.watchers.wake(ticket)
            await self.notices.hand_over(ticket.ticket_id)
            closed += 1
        return closed
