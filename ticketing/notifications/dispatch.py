"""The dispatcher's rules: claim one due row, send it, record sent, failed or retry later."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

import structlog
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.auth.principal import Principal
from ticketing.core.enums import Audience, NoticeKind
from ticketing.core.errors import Forbidden
from ticketing.db.rls import bind_scope
from ticketing.notifications import repository as repo
from ticketing.notifications.delivery import DeliveryOutcome, DeliveryStatus, RetryPolicy
from ticketing.notifications.mailer import Notifier, TicketContext, render
from ticketing.notifications.rendering import message_id_for
from ticketing.runtime.settings import Settings

log = structlog.get_logger(__name__)

NO_RECIPIENT = "no recipient"


class DispatchReport(BaseModel):
    """What one pass over the due rows did, and when the next one is due."""

    sent: int = 0
    failed: int = 0
    deferred: int = 0
    # The SMTP server could not be reached: the rest of the due rows wait for the next pass.
    connection_trouble: bool = False
    # The pass stopped at its limit with rows still due.
    more: bool = False
    # Seconds until the next queued row is due (<= 0: due now); None when nothing is queued.
    next_due_seconds: float | None = None

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.deferred


@dataclass(frozen=True)
class DispatchRules:
    retry: RetryPolicy = RetryPolicy()
    # Longer than one bounded SMTP session (six steps of the SMTP timeout): a row is never
    # claimed twice by live senders.
    lease: timedelta = timedelta(minutes=5)
    # Desk notices without a recipient (escalations to the platform) go here.
    platform_email: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> DispatchRules:
        retry = RetryPolicy(
            first_delay=timedelta(seconds=settings.mail_retry_first_delay),
            max_delay=timedelta(seconds=settings.mail_retry_max_delay),
            max_attempts=settings.mail_retry_max_attempts,
        )
        lease = timedelta(seconds=settings.smtp_timeout * 6 + 30)
        return cls(retry=retry, lease=lease, platform_email=settings.platform_email)


class Dispatcher:
    """Sends queued notices one row at a time, each claimed, sent and recorded on its own.

    A delivered row is never sent again by a live sender; a sender that dies between the mail
    leaving and the record committing leaves the row claimed, and its next attempt (counted,
    same Message-ID) comes when the lease ends.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        principal: Principal,
        notifier: Notifier,
        rules: DispatchRules | None = None,
    ) -> None:
        if not principal.sees_everything:
            raise Forbidden("deliver notifications")
        self.sessions = sessions
        self.principal = principal
        self.notifier = notifier
        self.rules = rules or DispatchRules()

    async def send_due(
        self,
        *,
        limit: int = 100,
        ticket_id: uuid.UUID | None = None,
        on_row: Callable[[int], None] | None = None,
    ) -> DispatchReport:
        """Send up to `limit` due rows (of one ticket, if given); stop early if SMTP is down."""
        report = DispatchReport()
        while report.handled < limit:
            outcome = await self.send_one(ticket_id)
            if outcome is None:
                break
            note_id, result = outcome
            if on_row is not None:
                on_row(note_id)
            if result.status is DeliveryStatus.SENT:
                report.sent += 1
            elif result.status is DeliveryStatus.FAILED:
                report.failed += 1
            else:
                report.deferred += 1
                if result.code is None:
                    report.connection_trouble = True
                    break
        else:
            report.more = True
        async with self.sessions() as session:
            bind_scope(session, self.principal)
            due_in = await repo.next_due_in(session)
        report.next_due_seconds = due_in.total_seconds() if due_in is not None else None
        return report

    async def send_one(
        self, ticket_id: uuid.UUID | None = None
    ) -> tuple[int, DeliveryOutcome] | None:
        """Claim, send and record one due row; None when no row is due."""
        async with self.sessions() as session, session.begin():
            bind_scope(session, self.principal)
            row = await repo.claim_due(session, lease=self.rules.lease, ticket_id=ticket_id)
        if row is None:
            return None
        outcome = await self._deliver(row)
        async with self.sessions() as session, session.begin():
            bind_scope(session, self.principal)
            status = await self._record(session, row, outcome)
        return row.id, replace(outcome, status=status)

    async def _deliver(self, row: repo.OutboxRow) -> DeliveryOutcome:
        if row.attempts > self.rules.retry.max_attempts:
            # Only a sender dying mid-send gets here: the bound holds for crashes too.
            return DeliveryOutcome(DeliveryStatus.FAILED, "gave up: sender crashed mid-send")
        recipient = row.recipient or self._fallback(row.kind)
        if not recipient:
            return DeliveryOutcome(DeliveryStatus.FAILED, NO_RECIPIENT)
        if row.recipient and row.bounced is not None:
            return DeliveryOutcome(
                DeliveryStatus.FAILED, f"address flagged as bounced: {row.bounced}"[:1000]
            )
        context = (
            TicketContext(row.ticket_id, row.status, row.tenant_name) if row.ticket_id else None
        )
        rendered = render(
            replace(row, recipient=recipient),
            context,
            sender=self.notifier.sender,
            domain=self.notifier.mail_domain,
            full=self.notifier.transport is not None,
            links=self.notifier.links,
        )
        try:
            return await self.notifier.deliver(rendered)
        except Exception as error:  # noqa: BLE001 - an unforeseen error must not loop the row
            return DeliveryOutcome(DeliveryStatus.RETRY, f"{type(error).__name__}: {error}", 0)

    def _fallback(self, kind: str) -> str | None:
        try:
            desk = NoticeKind(kind).audience is Audience.DESK
        except ValueError:
            return None
        return self.rules.platform_email if desk else None

    async def _record(
        self, session: AsyncSession, row: repo.OutboxRow, outcome: DeliveryOutcome
    ) -> DeliveryStatus:
        """Record the outcome; returns it as recorded (a retry past the bound is a failure)."""
        if outcome.status is DeliveryStatus.SENT:
            message_id = message_id_for(row.id, row.ticket_number, self.notifier.mail_domain)
            await repo.mark_sent(session, row.id, message_id, outcome.reason)
            return DeliveryStatus.SENT
        delay = self.rules.retry.delay_after(row.attempts)
        if outcome.status is DeliveryStatus.FAILED or delay is None:
            reason = outcome.reason
            if outcome.status is DeliveryStatus.RETRY:
                reason = f"gave up after {row.attempts} attempts: {reason}"
            log.warning("notification_failed", notification_id=row.id, reason=reason)
            await repo.mark_failed(session, row.id, reason)
            return DeliveryStatus.FAILED
        await repo.defer(session, row.id, delay, outcome.reason)
        return DeliveryStatus.RETRY


class DispatchInput(BaseModel):
    """One pass of the dispatcher's activity."""

    limit: int = 100


class DispatcherInput(BaseModel):
    """The dispatcher workflow's settings; carried across continue-as-new."""

    batch: int = 100
    # While rows are queued, looks for due ones at least this often without a wake-up.
    poll_seconds: float = 30.0
    # After the SMTP server could not be reached, wait this long before the next pass.
    outage_pause_seconds: float = 5.0
