"""The watcher's commands with their after-commit duty: handing the notices they queued over."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.auth.principal import Principal
from ticketing.sla.schemas import BreachResult, SlaSnapshot
from ticketing.sla.service import CallerBounds, SlaService
from ticketing.tickets.ports import Notices
from ticketing.tickets.schemas import TicketInfo
from ticketing.tickets.service import TicketService


class SlaFlows:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        principal: Principal,
        *,
        notices: Notices,
        bounds: CallerBounds | None = None,
    ) -> None:
        self.sessions = sessions
        self.principal = principal
        self.notices = notices
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
            outcome = await self._service(session).record_breach(
                ticket_id, kind, now=now
            )
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
