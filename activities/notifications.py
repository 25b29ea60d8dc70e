"""The dispatcher's activity: one pass over the outbox."""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.boundary import activity_boundary
from activities.heartbeat import heartbeating
from ticketing.auth.principal import Principal
from ticketing.notifications.dispatch import (
    Dispatcher,
    DispatchInput,
    DispatchReport,
    DispatchRules,
)
from ticketing.notifications.mailer import Notifier
from ticketing.temporal.caller import CallerCheck
from ticketing.temporal.names import DISPATCHER_WORKFLOW

log = structlog.get_logger(__name__)


class NotificationActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        notifier: Notifier,
        rules: DispatchRules | None = None,
        *,
        callers: CallerCheck,
    ) -> None:
        self.dispatcher = Dispatcher(sessions, Principal.reconciler(), notifier, rules)
        self.callers = callers

    @activity.defn(name="dispatch_notifications")
    async def dispatch_notifications(self, input: DispatchInput) -> DispatchReport:
        """One pass: claim, send and record due rows in chunks, up to the limit. It heartbeats
        every few seconds whatever the SMTP server's pace, so a pass whose worker died is
        tried again within the workflow's heartbeat timeout."""
        async with activity_boundary():
            await self.callers.require(frozenset({DISPATCHER_WORKFLOW}), "dispatch notifications")
        async with heartbeating():
            return await self.dispatcher.send_due(
                limit=input.limit, on_row=lambda note_id: activity.heartbeat(note_id)
            )
