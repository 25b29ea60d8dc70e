"""The IMAP poller's activity: one pass over every IMAP mailbox through the intake flow."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.boundary import activity_boundary
from ticketing.auth.signed_links import MissingSecretKey
from ticketing.mail.flows import MailIntake
from ticketing.mail.mailboxes import PasswordBox
from ticketing.smtp.polling import PollInput, PollReport, poll_all
from ticketing.temporal.caller import CallerCheck
from ticketing.temporal.names import MAIL_POLLER_WORKFLOW, POLL_MAILBOXES_ACTIVITY

# Well inside the poller's heartbeat timeout (workflows/mail_poller.py, 30 s).
HEARTBEAT_EVERY = 5.0


async def _beat() -> None:
    """Heartbeats while the pass runs: its worker is alive. A hung IMAP call is bounded by its
    socket timeout, the pass by its start-to-close timeout."""
    while True:
        activity.heartbeat()
        await asyncio.sleep(HEARTBEAT_EVERY)


class MailActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        intake: MailIntake,
        passwords: PasswordBox | None,
        *,
        callers: CallerCheck,
    ) -> None:
        self.sessions = sessions
        self.intake = intake
        self.passwords = passwords
        self.callers = callers

    @activity.defn(name=POLL_MAILBOXES_ACTIVITY)
    async def poll_mailboxes(self, input: PollInput) -> PollReport:
        """Fetch every IMAP mailbox once; each message is flagged after its outcome commits."""
        async with activity_boundary():
            await self.callers.require(frozenset({MAIL_POLLER_WORKFLOW}), "poll mailboxes")
            if self.passwords is None:
                raise MissingSecretKey(
                    "secret_key: IMAP passwords need TICKETING_SECRET_KEY", field="secret_key"
                )
            beating = asyncio.create_task(_beat())
            try:
                report = await poll_all(self.sessions, self.intake, self.passwords, input.limit)
            finally:
                beating.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await beating
        count_outcomes(report)
        return report


def count_outcomes(report: PollReport) -> None:
    """The IMAP door's outcomes on the worker's metrics (TICKETING_METRICS_PORT), under the
    name `ticketing mail serve` counts the SMTP door's: ticketing_mail_received{outcome}."""
    meter = activity.metric_meter()
    received = meter.create_counter(
        "ticketing_mail_received", "Received mail by the outcome committed for it."
    )
    for outcome, count in report.outcomes.items():
        received.add(count, {"outcome": outcome, "door": "imap"})
    unreachable = meter.create_counter(
        "ticketing_mail_imap_unreachable", "IMAP mailboxes that could not be fetched in a pass."
    )
    for mailbox in report.unreachable:
        unreachable.add(1, {"mailbox": mailbox})
