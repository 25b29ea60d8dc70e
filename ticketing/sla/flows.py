"""The watcher's commands with their after-commit duty: handing the notices they queued over."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.auth.principal import Principal
from ticketing.sla.schemas import BreachResult, SlaSnapshot
from ticketing.sla.service import SlaService
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
    ) -> None:
        self.sessions = sessions
        self.principal = principal
        self.notices = notices

    async def snapshot(self, ticket_id: uuid.UUID, now: datetime) -> SlaSnapshot:
        async with self.sessions() as session, session.begin():
            return await SlaService(session, self.principal).sla_snapshot(ticket_id, now=now)

    async def record_threshold(
        self, ticket_id: uuid.UUID, kind: str, now: datetime
    ) -> BreachResult:
        """Record the threshold (idempotent) with its notices queued, then hand them over.

        Only queued: the dispatcher sends them, so mail never delays the next threshold.
        """
        async with self.sessions() as session, session.begin():
            outcome = await SlaService(session, self.principal).record_breach(
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
            row, _ = await SlaService(session, self.principal).escalate(
                ticket_id, from_level=from_level, now=now
            )
            ticket = await TicketService(session, self.principal).get_ticket(row.id)
        await self.notices.hand_over(ticket.ticket_id)
        return ticket
