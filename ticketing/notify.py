"""Notification rendering and delivery from the outbox: SMTP when configured, else the log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from urllib.parse import unquote, urlparse

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.notifications import repository as repo
from ticketing.notifications.repository import OutboxRow

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Rendered:
    recipient: str | None
    subject: str
    body: str
    # Stable per outbox row: a copy re-sent after a crash is recognisably the same message.
    message_id: str


def render(note: OutboxRow) -> Rendered:
    """Subject and body for one outbox row; always carries the ticket number."""
    prefix = f"[{note.ticket_number}]"
    payload = note.payload
    if note.kind == "ticket_created":
        subject = f"{prefix} We received your request: {note.title}"
        body = (
            f"Your ticket number is {note.ticket_number}. Quote it in any reply.\n\n"
            f"{note.title}\nPriority: {note.priority}"
        )
    elif note.kind == "sla_warning":
        subject = f"{prefix} SLA warning ({payload.get('kind')}): due {payload.get('due_at')}"
        body = f"{note.title} approaches its {payload.get('kind')} due time."
    elif note.kind == "sla_breach":
        subject = f"{prefix} SLA breached ({payload.get('kind')}) at level {payload.get('level')}"
        body = f"{note.title} missed its {payload.get('kind')} due time {payload.get('due_at')}."
    elif note.kind == "escalated":
        subject = f"{prefix} Escalated to L{payload.get('to_level')} ({payload.get('target_type')})"
        body = f"{note.title} was escalated from L{payload.get('from_level')}."
    else:
        subject, body = f"{prefix} {note.kind}", note.title
    return Rendered(note.recipient, subject, body, f"<notification-{note.id}@ticketing>")


class Notifier:
    """Delivers rendered notifications; without an SMTP URL they are only logged."""

    def __init__(self, smtp_url: str | None = None, sender: str = "tickets@localhost") -> None:
        self.smtp_url = smtp_url
        self.sender = sender

    async def deliver(self, message: Rendered) -> None:
        if not self.smtp_url or not message.recipient:
            log.info("notification", recipient=message.recipient, subject=message.subject)
            return
        import aiosmtplib

        url = urlparse(self.smtp_url)
        email = EmailMessage()
        email["From"], email["To"], email["Subject"] = (
            self.sender,
            message.recipient,
            message.subject,
        )
        email["Message-ID"] = message.message_id
        email.set_content(message.body)
        await aiosmtplib.send(
            email,
            hostname=url.hostname or "localhost",
            port=url.port or 25,
            username=unquote(url.username) if url.username else None,
            password=unquote(url.password) if url.password else None,
            start_tls=url.scheme == "smtp+starttls",
            use_tls=url.scheme == "smtps",
        )


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
    """
    if ids and not attempts_counted:
        async with sessions() as session, session.begin():
            ids = await repo.count_attempts(session, ids)
    if not ids:
        return 0  # nothing, or all already sent
    async with sessions() as session, session.begin():
        claimed = await repo.claim_notifications(session, ids)
        sent: list[int] = []
        for note in claimed:
            await notifier.deliver(render(note))
            sent.append(note.id)
        if sent:
            await repo.mark_sent(session, sent, datetime.now(UTC))
    return len(sent)
