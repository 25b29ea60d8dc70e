"""Notices to mail: threaded headers, folded user text, text and HTML parts from templates."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from functools import cache
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined

from ticketing.core.enums import Audience, NoticeKind
from ticketing.core.errors import TicketingError

# Placeholders are `title` and the payload keys each kind's outbox row carries.
_SUBJECTS: dict[NoticeKind, str] = {
    NoticeKind.TICKET_CREATED: "We received your request: {title}",
    NoticeKind.SUPPORT_REPLIED: "New reply: {title}",
    NoticeKind.WAITING_ON_CUSTOMER: "Waiting for your reply: {title}",
    NoticeKind.TICKET_RESOLVED: "Resolved: {title}",
    NoticeKind.TICKET_REOPENED: "Reopened: {title}",
    NoticeKind.CUSTOMER_REPLIED: "Customer replied: {title}",
    NoticeKind.TICKET_MERGED: "Merged into {into}: {title}",
    NoticeKind.PENDING_REMINDER: "Still waiting for your reply: {title}",
    NoticeKind.PENDING_CLOSED: "Closed while waiting for your reply: {title}",
    NoticeKind.SLA_WARNING: "SLA warning ({kind}): due {due_at}",
    NoticeKind.SLA_BREACH: "SLA breached ({kind}) at level {level}",
    NoticeKind.ESCALATED: "Escalated to L{to_level} ({target_type})",
    NoticeKind.OUTAGE_UPDATE: "Service disruption: {title}",
    NoticeKind.OUTAGE_RESOLVED: "Service restored: {title}",
}


@dataclass(frozen=True)
class Notice:
    """One outbox row (one recipient) with everything its mail shows."""

    id: int
    kind: NoticeKind
    ticket_id: uuid.UUID
    ticket_number: str
    title: str
    priority: str
    status: str
    recipient: str
    sender_name: str
    sender_address: str
    payload: Mapping[str, object] = field(default_factory=dict)
    tracking_url: str | None = None
    reply_body: str | None = None
    # Replies go here (the tenant's mailbox), and the customer's mail this one answers.
    reply_to: str | None = None
    in_reply_to: str | None = None


class UndeliverableNotice(TicketingError):
    """The notice can never become a sendable mail: a permanent failure, not worth a retry."""


class InvalidAddress(UndeliverableNotice):
    """An address is malformed or not plain ASCII (we do not speak SMTPUTF8)."""

    def __init__(self, field: str, value: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", field=field, value=value)
        self.reason = reason


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_ID_PART = re.compile(r"[^A-Za-z0-9-]")
_FOLDED = frozenset({"Cc", "Zl", "Zp"})


def header_text(value: str) -> str:
    """User text fit for one header line: control and line-break characters become spaces.

    Unicode line separators count too: the email package's folding splits on them, which is
    how a title could otherwise start a header of its own.
    """
    folded = "".join(" " if unicodedata.category(c) in _FOLDED else c for c in value)
    return " ".join(folded.split())


def mail_domain(value: str) -> str:
    """A host name fit for the right-hand side of a Message-ID; refused at configuration."""
    if len(value) > 253 or not _DOMAIN.fullmatch(value):
        raise ValueError(f"mail domain must be a plain ASCII host name, got {value!r}")
    return value.lower()


def mail_address(value: str | None, field: str) -> Address:
    """Parse one bare addr-spec; anything else is an InvalidAddress naming the field."""
    if not value:
        raise InvalidAddress(field, "", "no address")
    if not value.isascii():
        raise InvalidAddress(field, value, "non-ASCII address (SMTPUTF8 is not supported)")
    if any(c.isspace() or not c.isprintable() for c in value):
        raise InvalidAddress(field, value, "address contains spaces or control characters")
    try:
        address = Address(addr_spec=value)
    except (ValueError, IndexError, MessageError) as error:
        raise InvalidAddress(field, value, f"malformed address ({error})") from error
    if address.addr_spec != value or not address.username or not address.domain:
        raise InvalidAddress(field, value, "malformed address")
    return address


def thread_root_id(ticket_id: uuid.UUID, domain: str) -> str:
    """The per-ticket id every notice about the ticket refers to, so they form one thread."""
    return f"<ticket-{ticket_id}@{domain}>"


def message_id(notice: Notice, domain: str) -> str:
    """Unique per outbox row and installation, and the same for every resend of that row."""
    return message_id_for(notice.id, notice.ticket_number, domain)


def message_id_for(notification_id: int, ticket_number: str, domain: str) -> str:
    return f"<notification-{notification_id}.{_ID_PART.sub('', ticket_number)}@{domain}>"


_MSG_ID = re.compile(r"<[!-;=?-~]{1,298}>")
_ROOT = re.compile(r"<ticket-([0-9a-f-]{36})@([^>\s]+)>")


def ticket_id_from_references(references: str, domain: str) -> uuid.UUID | None:
    """The ticket a reply belongs to, from its References/In-Reply-To, if we started it."""
    for match in _ROOT.finditer(references):
        if match.group(2).lower() == domain:
            try:
                return uuid.UUID(match.group(1))
            except ValueError:
                continue
    return None


def render_notice(notice: Notice, *, domain: str, now: datetime | None = None) -> EmailMessage:
    """The mail for one notice; raises UndeliverableNotice if it can never be sent."""
    recipient = mail_address(notice.recipient, "recipient")
    sender = mail_address(notice.sender_address, "sender_address")
    tracking_url = _tracking_url(notice)
    subject = subject_line(notice)
    context = {
        "notice": notice,
        "kind": notice.kind,
        "title": header_text(notice.title),
        "payload": notice.payload,
        "subject": subject,
        "tracking_url": tracking_url,
        "reply_body": notice.reply_body,
        "sender_name": header_text(notice.sender_name),
    }
    message = EmailMessage(policy=SMTP)
    message["Subject"] = subject
    message["From"] = Address(
        display_name=header_text(notice.sender_name),
        username=sender.username,
        domain=sender.domain,
    )
    message["To"] = recipient
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = message_id(notice, domain)
    if notice.reply_to:
        message["Reply-To"] = mail_address(notice.reply_to, "reply_to")
    root = thread_root_id(notice.ticket_id, domain)
    # A ticket that came by mail answers the customer's latest message, in its thread.
    answered = notice.in_reply_to
    if answered is not None and not _MSG_ID.fullmatch(answered):
        answered = None
    message["In-Reply-To"] = answered or root
    message["References"] = f"{root} {answered}" if answered else root
    message["Auto-Submitted"] = "auto-generated"
    # Outlook/Exchange honour this instead of Auto-Submitted: no out-of-office loops.
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(_templates(html=False).get_template(f"{notice.kind}.txt").render(context))
    message.add_alternative(
        _templates(html=True).get_template(f"{notice.kind}.html").render(context), subtype="html"
    )
    return message


def subject_line(notice: Notice) -> str:
    """`[TKT-…] what happened`, on one line whatever the title holds."""
    fields = _Fields({key: str(value) for key, value in notice.payload.items()})
    fields["title"] = notice.title
    what = header_text(_SUBJECTS[notice.kind].format_map(fields))
    return f"[{header_text(notice.ticket_number)}] {what}"


class _Fields(dict[str, str]):
    # A row written by an older release may lack a key: show "?" rather than fail the mail.
    def __missing__(self, key: str) -> str:
        return "?"


def _tracking_url(notice: Notice) -> str | None:
    if notice.kind.audience is not Audience.CUSTOMER or notice.tracking_url is None:
        return None
    url = notice.tracking_url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or header_text(url) != url:
        raise UndeliverableNotice(
            f"tracking_url: not an http(s) URL ({url!r})", field="tracking_url", value=url
        )
    return url


@cache
def _templates(*, html: bool) -> Environment:
    folder = "templates/html" if html else "templates/text"
    return Environment(
        loader=PackageLoader("ticketing.notifications", folder),
        # Titles, names and reply bodies are data: escaped in HTML, verbatim in text.
        autoescape=html,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        # Package files: no stat of the template on every mail (3% of a dispatcher's CPU).
        auto_reload=False,
    )
