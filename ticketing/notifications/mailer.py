"""Outbox rows to mail: rendering a claimed row and the transport (SMTP, or the log)."""

from __future__ import annotations

import contextlib
import ssl
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from email.message import EmailMessage

import structlog

from ticketing.auth.signed_links import MissingSecretKey, TrackingLinks
from ticketing.core.enums import OUTAGE_NOTICES
from ticketing.notifications.delivery import (
    DeliveryOutcome,
    DeliveryStatus,
    MailSession,
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
from ticketing.runtime.settings import Settings

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
    # The SMTP envelope sender (MAIL FROM): the tenant's mailbox, so reports come back there.
    envelope_sender: str | None = None


@dataclass(frozen=True)
class TicketContext:
    """What an outbox row lacks for a threaded, signed mail."""

    ticket_id: uuid.UUID
    status: str
    tenant_name: str


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
        # A reply's own words travel in its row: the ticket may have newer ones by now.
        reply_body=body if isinstance(body := note.payload.get("body"), str) else None,
        reply_to=note.mailbox,
        in_reply_to=note.customer_message_id,
    )


def render(
    note: OutboxRow,
    context: TicketContext | None,
    *,
    sender: str,
    domain: str,
    full: bool = True,
    links: TrackingLinks | None = None,
) -> Rendered:
    """Subject, text body and full mail for one outbox row; always carries the ticket number.

    Without `full` only the subject is made: the log stands in for SMTP and a whole MIME
    message costs milliseconds on the watcher's path.
    """
    msg_id = message_id_for(note.id, note.ticket_number, domain)
    # A tenant with an inbound mailbox writes from it: replies and reports come back to intake.
    sender = note.mailbox or sender
    try:
        if context is None:
            raise UndeliverableNotice("ticket_id: the row has no ticket", field="ticket_id")
        notice = notice_from_outbox(note, context, sender=sender)
        if links is not None and notice.kind not in OUTAGE_NOTICES:
            notice = replace(notice, tracking_url=links.url(notice.ticket_id))
        if not full:
            return Rendered(note.recipient, subject_line(notice), "", msg_id)
        mail = render_notice(notice, domain=domain)
    except UndeliverableNotice as error:
        subject = f"[{header_text(note.ticket_number)}] {header_text(note.title)}"
        problem = None if not note.recipient else error.message
        return Rendered(note.recipient, subject, "", msg_id, None, problem)
    body = mail.get_body(("plain",))
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    return Rendered(
        note.recipient, str(mail["Subject"]), text, msg_id, mail, envelope_sender=note.mailbox
    )


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
        links: TrackingLinks | None = None,
    ) -> None:
        self.smtp_url = smtp_url
        # Customer mail links to the ticket's tracking page (GET /track/{token}).
        self.links = links
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
            links=_tracking_links(settings),
        )

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[MailSession | None]:
        """One SMTP connection for several `deliver` calls; None when mail is only logged."""
        if self.transport is None:
            yield None
            return
        async with self.transport.session() as session:
            yield session

    async def deliver(self, message: Rendered, via: MailSession | None = None) -> DeliveryOutcome:
        """Send one rendered row (over `via`, else a connection of its own); logging stands
        in for SMTP when none is configured."""
        if self.transport is None:
            log.info("notification", recipient=message.recipient, subject=message.subject)
            return DeliveryOutcome(DeliveryStatus.SENT, "logged")
        if message.problem is not None:
            return DeliveryOutcome(DeliveryStatus.FAILED, message.problem)
        if message.mail is None:
            # Never "sent": a notice nobody received is a failure someone must see.
            return DeliveryOutcome(DeliveryStatus.FAILED, "no recipient")
        if via is None:
            return await self.transport.deliver(
                message.mail, envelope_sender=message.envelope_sender
            )
        return await via.deliver(message.mail, envelope_sender=message.envelope_sender)


def _domain(configured: str | None, sender: str) -> str:
    return mail_domain(configured or sender.rpartition("@")[2] or "localhost")


def _tracking_links(settings: Settings) -> TrackingLinks | None:
    try:
        return TrackingLinks.from_settings(settings)
    except MissingSecretKey as error:
        # Info, not warning: every CLI verb builds a notifier and its stderr stays for errors.
        log.info("mail_without_tracking_links", reason=error.message)
        return None
