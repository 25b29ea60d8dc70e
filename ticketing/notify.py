"""Outbox rows to mail for today's callers: thin wrappers over ticketing.notifications."""

from __future__ import annotations

import ssl
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.models import Notification, Tenant, Ticket
from ticketing.notifications import repository as repo
from ticketing.notifications.delivery import (
    DeliveryOutcome,
    DeliveryStatus,
    MailTransport,
)
from ticketing.notifications.rendering import (
    Notice,
    NoticeKind,
    UndeliverableNotice,
    header_text,
    mail_domain,
    message_id_for,
    render_notice,
    subject_line,
)
from ticketing.notifications.repository import OutboxRow
from ticketing.settings import Settings

log = structlog.get_logger(__name__)
_KINDS = frozenset(NoticeKind)


@dataclass(frozen=True)
class Rendered:
    recipient: str | None
    subject: str
    body: str
    # Stable per outbox row: a copy re-sent after a crash is recognisably the same message.
    message_id: str
    # The whole mail; None when there is no one to send it to or it can never be sent.
    mail: EmailMessage | None = None
    # Why it can never be sent (a permanent failure), when that is the case.
    problem: str | None = None


@dataclass(frozen=True)
class TicketContext:
    """What an outbox row lacks for a threaded, signed mail."""

    ticket_id: uuid.UUID
    status: str
    tenant_name: str


class MailDeferred(Exception):
    """Some rows met a transient failure (4xx, connection): the caller should retry later."""


def notice_from_outbox(note: OutboxRow, context: TicketContext, *, sender: str) -> Notice:
    """The rendering input for one outbox row; a kind we cannot render is undeliverable."""
    if note.kind not in _KINDS:
        raise UndeliverableNotice(f"kind: no mail for {note.kind!r}", field="kind", value=note.kind)
    return Notice(
        id=note.id,
        kind=NoticeKind(note.kind),
        ticket_id=context.ticket_id,
        ticket_number=note.ticket_number,
        title=note.title,
        priority=note.priority,
        status=context.status,
        recipient=note.recipient or "",
        sender_name=context.tenant_name,
        sender_address=sender,
        payload=note.payload,
    )


def render(
    note: OutboxRow,
    context: TicketContext | None,
    *,
    sender: str,
    domain: str,
    full: bool = True,
) -> Rendered:
    """Subject, text body and full mail for one outbox row; always carries the ticket number.

    Without `full` only the subject is made: the log stands in for SMTP and a whole MIME
    message costs milliseconds on the watcher's path.
    """
    msg_id = message_id_for(note.id, note.ticket_number, domain)
    try:
        if context is None:
            raise UndeliverableNotice("ticket_id: the row has no ticket", field="ticket_id")
        notice = notice_from_outbox(note, context, sender=sender)
        if not full:
            return Rendered(note.recipient, subject_line(notice), "", msg_id)
        mail = render_notice(notice, domain=domain)
    except UndeliverableNotice as error:
        subject = f"[{header_text(note.ticket_number)}] {header_text(note.title)}"
        problem = None if not note.recipient else error.message
        return Rendered(note.recipient, subject, "", msg_id, None, problem)
    body = mail.get_body(("plain",))
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    return Rendered(note.recipient, str(mail["Subject"]), text, msg_id, mail)


class Notifier:
    """Delivers rendered notifications; without an SMTP URL they are only logged."""

    def __init__(
        self,
        smtp_url: str | None = None,
        sender: str = "tickets@localhost",
        *,
        mail_domain: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.smtp_url = smtp_url
        self.sender = sender
        self.mail_domain = _domain(mail_domain, sender)
        self.transport = (
            MailTransport.from_url(smtp_url, tls_context=tls_context, timeout=timeout)
            if smtp_url
            else None
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Notifier:
        return cls(
            settings.smtp_url,
            settings.smtp_sender,
            mail_domain=settings.mail_domain,
            timeout=settings.smtp_timeout,
        )

    async def deliver(self, message: Rendered) -> DeliveryOutcome:
        """Send one rendered row; logging stands in for SMTP when none is configured."""
        if self.transport is None:
            log.info("notification", recipient=message.recipient, subject=message.subject)
            return DeliveryOutcome(DeliveryStatus.SENT, "logged")
        if message.problem is not None:
            return DeliveryOutcome(DeliveryStatus.FAILED, message.problem)
        if message.mail is None:
            log.info("notification_without_recipient", subject=message.subject)
            return DeliveryOutcome(DeliveryStatus.SENT, "no recipient")
        return await self.transport.deliver(message.mail)


async def send_notifications(
    sessions: async_sessionmaker[AsyncSession],
    notifier: Notifier,
    ids: list[int],
    *,
    attempts_counted: bool = False,
) -> int:
    """Send each unsent notification; returns how many this call delivered.

    Delivery is at least once: a crash after the mail left but before `sent_at` committed sends
    it again on retry. Such a repeat is visible (`attempts` is counted in its own committed
    transaction first, or by the caller's when `attempts_counted`) and carries the same
    Message-ID, so mail systems can drop the copy.
    While one sender holds a row, others skip it, so two live senders never both send it.
    A permanent failure is logged with its reason and the row stays unsent (the outbox has no
    `failed` status yet); a transient one raises MailDeferred after the rows that did go out
    are marked sent, so a retry sends only the rest.
    """
    if ids and not attempts_counted:
        async with sessions() as session, session.begin():
            ids = await repo.count_attempts(session, ids)
    if not ids:
        return 0  # nothing, or all already sent
    deferred: list[str] = []
    async with sessions() as session, session.begin():
        claimed = await repo.claim_notifications(session, ids)
        contexts = await _ticket_contexts(session, [note.id for note in claimed])
        sent: list[int] = []
        for note in claimed:
            rendered = render(
                note,
                contexts.get(note.id),
                sender=notifier.sender,
                domain=notifier.mail_domain,
                full=notifier.transport is not None,
            )
            outcome = await notifier.deliver(rendered)
            if outcome.sent:
                sent.append(note.id)
            elif outcome.status is DeliveryStatus.FAILED:
                log.warning("notification_failed", notification_id=note.id, reason=outcome.reason)
            else:
                deferred.append(f"{note.id}: {outcome.reason}")
                if outcome.code is None:
                    break  # connection trouble: the rest would only wait out the same timeout
        if sent:
            await repo.mark_sent(session, sent, datetime.now(UTC))
    if deferred:
        raise MailDeferred("; ".join(deferred))
    return len(sent)


async def _ticket_contexts(
    session: AsyncSession, notification_ids: list[int]
) -> dict[int, TicketContext]:
    # Transitional: OutboxRow lacks these; the dispatcher the lead is building will carry them.
    rows = await session.execute(
        select(Notification.id, Ticket.id, Ticket.status, Tenant.name)
        .join(Ticket, Ticket.id == Notification.ticket_id)
        .join(Tenant, Tenant.id == Ticket.tenant_id)
        .where(Notification.id.in_(notification_ids))
    )
    return {row[0]: TicketContext(row[1], row[2], row[3]) for row in rows}


def _domain(configured: str | None, sender: str) -> str:
    return mail_domain(configured or sender.rpartition("@")[2] or "localhost")
