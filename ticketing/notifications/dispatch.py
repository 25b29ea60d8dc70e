"""The dispatcher's rules: claim due rows, send them, record each sent, failed or retry later."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import Callable, Sequence
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
from ticketing.notifications.delivery import (
    DeliveryOutcome,
    DeliveryStatus,
    MailSession,
    RetryPolicy,
)
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
    # Longer than one bounded SMTP message (`send_bound`): a row is never claimed twice by
    # live senders, and a claimed row is only started while its lease still covers its send.
    lease: timedelta = timedelta(minutes=5)
    # Desk notices without a recipient (escalations to the platform) go here.
    platform_email: str | None = None
    # Mails in flight at once, each over an SMTP connection the pass keeps for its rows.
    concurrency: int = 8
    # The longest one message may take (the transport's bound: six steps of the SMTP timeout).
    send_bound: timedelta = timedelta(minutes=1)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency: at least 1")
        if self.lease <= self.send_bound:
            raise ValueError("lease: must outlast one message's send_bound")

    @classmethod
    def from_settings(cls, settings: Settings) -> DispatchRules:
        retry = RetryPolicy(
            first_delay=timedelta(seconds=settings.mail_retry_first_delay),
            max_delay=timedelta(seconds=settings.mail_retry_max_delay),
            max_attempts=settings.mail_retry_max_attempts,
        )
        send_bound = timedelta(seconds=settings.smtp_timeout * 6)
        return cls(
            retry=retry,
            lease=send_bound + timedelta(seconds=30),
            platform_email=settings.platform_email,
            concurrency=settings.dispatch_concurrency,
            send_bound=send_bound,
        )

    @property
    def chunk(self) -> int:
        """Rows claimed, sent and recorded together."""
        return self.concurrency * ROWS_PER_SENDER


# Each sender gets a few rows per claim: fewer transactions, and the chunk's slowest mail
# holds the next claim back only briefly.
ROWS_PER_SENDER = 4


@dataclass(frozen=True)
class _Done:
    """A tried row's outcome as it is recorded; `delay` for a row to try again."""

    row: repo.OutboxRow
    status: DeliveryStatus
    reason: str
    delay: timedelta | None = None
    # The SMTP server could not be reached: the pass stops.
    trouble: bool = False


class Dispatcher:
    """Sends queued notices in chunks: claimed together (each row leased, its attempt counted),
    sent `concurrency` at a time over connections kept for the pass, recorded together.

    A row's outcome is its own (a refused recipient touches no other row). A delivered row is
    never sent again by a live sender; a sender that dies between the mail leaving and the
    record committing leaves its rows claimed, and their next attempt (counted, same
    Message-ID) comes when the lease ends. Rows of one ticket to one recipient go out in
    queue order on one connection; rows claimed but never tried (the server went away, or the
    lease no longer covers a send) go back to the queue uncounted.
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
        async with contextlib.AsyncExitStack() as stack:
            connections = [
                await stack.enter_async_context(self.notifier.connection())
                for _ in range(self.rules.concurrency)
            ]
            while report.handled < limit:
                done = await self.send_chunk(
                    min(self.rules.chunk, limit - report.handled), ticket_id, connections
                )
                if not done:
                    break
                for item in done:
                    if on_row is not None:
                        on_row(item.row.id)
                    if item.status is DeliveryStatus.SENT:
                        report.sent += 1
                    elif item.status is DeliveryStatus.FAILED:
                        report.failed += 1
                    else:
                        report.deferred += 1
                if any(item.trouble for item in done):
                    report.connection_trouble = True
                    break
            else:
                report.more = True
        async with self.sessions() as session:
            bind_scope(session, self.principal)
            due_in = await repo.next_due_in(session)
        report.next_due_seconds = due_in.total_seconds() if due_in is not None else None
        return report

    async def send_chunk(
        self,
        limit: int,
        ticket_id: uuid.UUID | None = None,
        connections: Sequence[MailSession | None] = (None,),
    ) -> list[_Done]:
        """Claim up to `limit` due rows, send them, record each one's outcome; the outcomes
        of the rows tried, in queue order (empty when no row is due)."""
        loop = asyncio.get_running_loop()
        # A row starts only while its lease still covers a whole bounded send.
        start_by = loop.time() + (self.rules.lease - self.rules.send_bound).total_seconds()
        async with self.sessions() as session, session.begin():
            bind_scope(session, self.principal)
            rows = await repo.claim_due(
                session, lease=self.rules.lease, ticket_id=ticket_id, limit=limit
            )
        if not rows:
            return []
        groups = deque(_in_order_groups(rows))
        done: dict[int, _Done] = {}
        trouble = asyncio.Event()

        async def sender(via: MailSession | None) -> None:
            while groups:
                for row in groups.popleft():
                    if trouble.is_set() or loop.time() > start_by:
                        return
                    done[row.id] = result = self._decide(row, await self._deliver(row, via))
                    if result.trouble:
                        trouble.set()

        async with asyncio.TaskGroup() as tasks:
            for via in connections[: len(groups)]:
                tasks.create_task(sender(via))
        tried = [done[row.id] for row in rows if row.id in done]
        async with self.sessions() as session, session.begin():
            bind_scope(session, self.principal)
            await self._record(session, tried)
            await repo.release(session, [row for row in rows if row.id not in done])
        return tried

    async def _deliver(self, row: repo.OutboxRow, via: MailSession | None) -> DeliveryOutcome:
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
        try:
            rendered = render(
                replace(row, recipient=recipient),
                context,
                sender=self.notifier.sender,
                domain=self.notifier.mail_domain,
                full=self.notifier.transport is not None,
                links=self.notifier.links,
            )
            return await self.notifier.deliver(rendered, via)
        except Exception as error:  # noqa: BLE001 - an unforeseen error must not loop the row
            return DeliveryOutcome(DeliveryStatus.RETRY, f"{type(error).__name__}: {error}", 0)

    def _fallback(self, kind: str) -> str | None:
        try:
            desk = NoticeKind(kind).audience is Audience.DESK
        except ValueError:
            return None
        return self.rules.platform_email if desk else None

    def _decide(self, row: repo.OutboxRow, outcome: DeliveryOutcome) -> _Done:
        """The outcome as it will be recorded: a retry past the bound is a failure."""
        if outcome.status is DeliveryStatus.SENT:
            return _Done(row, DeliveryStatus.SENT, outcome.reason)
        delay = self.rules.retry.delay_after(row.attempts)
        if outcome.status is DeliveryStatus.FAILED or delay is None:
            reason = outcome.reason
            if outcome.status is DeliveryStatus.RETRY:
                reason = f"gave up after {row.attempts} attempts: {reason}"
            log.warning("notification_failed", notification_id=row.id, reason=reason)
            return _Done(row, DeliveryStatus.FAILED, reason)
        return _Done(row, DeliveryStatus.RETRY, outcome.reason, delay, outcome.code is None)

    async def _record(self, session: AsyncSession, tried: list[_Done]) -> None:
        domain = self.notifier.mail_domain
        await repo.mark_sent(
            session,
            [
                (d.row.id, message_id_for(d.row.id, d.row.ticket_number, domain), d.reason)
                for d in tried
                if d.status is DeliveryStatus.SENT
            ],
        )
        await repo.mark_failed(
            session, [(d.row.id, d.reason) for d in tried if d.status is DeliveryStatus.FAILED]
        )
        await repo.defer(
            session,
            [(d.row.id, d.delay, d.reason) for d in tried if d.delay is not None],
        )


def _in_order_groups(rows: list[repo.OutboxRow]) -> list[list[repo.OutboxRow]]:
    """The rows by (ticket, recipient), each group in queue order, groups by their first row."""
    groups: dict[tuple[uuid.UUID | None, str | None], list[repo.OutboxRow]] = {}
    for row in rows:
        groups.setdefault((row.ticket_id, row.recipient), []).append(row)
    return list(groups.values())


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
