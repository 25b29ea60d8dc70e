"""Hand-over of outbox rows to delivery: the notices port, delivering right away."""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.notifications import repository as repo
from ticketing.notify import Notifier, send_notifications

log = structlog.get_logger(__name__)


class DirectDelivery:
    """Delivers a ticket's unsent notices now, after the commit that queued them.

    A failed delivery never fails the command that queued it: the row stays unsent, with its
    attempt counted, and the reconciler hands it over again.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], notifier: Notifier) -> None:
        self.sessions = sessions
        self.notifier = notifier

    async def hand_over(self, ticket_id: uuid.UUID) -> None:
        try:
            await self.deliver_ticket(ticket_id)
        except Exception as error:  # noqa: BLE001 - any failure leaves the row for a retry
            log.warning("notice_delivery_failed", ticket_id=str(ticket_id), error=str(error))

    async def send_counted(self, notification_ids: list[int]) -> None:
        await send_notifications(
            self.sessions, self.notifier, notification_ids, attempts_counted=True
        )

    async def deliver_ticket(self, ticket_id: uuid.UUID) -> list[int]:
        """Count an attempt on each unsent notice of the ticket, then send them; their ids."""
        async with self.sessions() as session, session.begin():
            ids = await repo.count_ticket_attempts(session, ticket_id)
        await send_notifications(self.sessions, self.notifier, ids, attempts_counted=True)
        return ids

    async def deliver(self, notification_ids: list[int]) -> int:
        return await send_notifications(self.sessions, self.notifier, notification_ids)
