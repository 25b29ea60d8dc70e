"""One received message, parsed once: the headers the rules read, its text, its attachments.

The standard library's `email` (policy `default`) decodes headers and parts; quoted history is
stripped by mail-parser-reply, HTML becomes text with inscriptis (as a browser lays it out,
no script or style), and delivery reports are read as RFC 3464 or by flufl.bounce.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import message_from_bytes
from email.headerregistry import AddressHeader, BaseHeader, HeaderRegistry
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.policy import EmailPolicy
from email.policy import default as default_policy
from email.utils import getaddresses
from functools import cache, cached_property, lru_cache

from inscriptis import get_text
from mailparser_reply import EmailReplyParser

from ticketing.mail.reports import DeliveryReport, delivery_report

# mail-parser-reply's languages: the quote headers ("On … wrote:", "Am … schrieb:", …).
REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pl", "sv", "da", "cs"]
_MSG_ID = re.compile(r"<[^<>\s]{1,298}>")
_SUBJECT_MAX = 200
_ADDRESS_MAX = 254
# Headers the loop rules read (RFC 3834, RFC 2369/2919, the common auto-responders').
_AUTO_HEADERS = ("auto-submitted", "precedence", "list-id", "x-autoreply", "x-autorespond")


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ParsedMail:
    """What intake needs of one message; `problem` is why it must be rejected, if it must."""

    message_key: str
    size: int
    message_id: str | None = None
    sender: str | None = None
    sender_name: str | None = None
    subject: str = ""
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    # Addressees in header order: routing (Delivered-To, X-Original-To, To, Cc) and copies.
    delivered_to: tuple[str, ...] = ()
    original_to: tuple[str, ...] = ()
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    # The loop headers present, lower-case name → value (first occurrence).
    auto_headers: dict[str, str] = field(default_factory=dict)
    authentication_results: tuple[str, ...] = ()
    text: str = ""
    attachments: tuple[MailAttachment, ...] = ()
    report: DeliveryReport | None = None
    problem: str | None = None

    @property
    def routing_candidates(self) -> tuple[str, ...]:
        """Where the mailbox is looked for without `--recipient`, in the contract's order."""
        return (*self.delivered_to, *self.original_to, *self.to, *self.cc)

    @property
    def thread_ids(self) -> tuple[str, ...]:
        return (*self.in_reply_to, *self.references)

    @cached_property
    def reply_text(self) -> str:
        """The text without its quoted history: made only for a mail that is appended (a new
        ticket keeps the whole text), since the reply parser is the slowest part of parsing."""
        return strip_quoted(self.text)


def digest_key(raw: bytes) -> str:
    """The key of a message with no Message-ID: the same bytes are the same mail."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse a whole message; never raises for what a sender wrote (a problem is recorded)."""
    message = message_from_bytes(raw, policy=_policy())
    assert isinstance(message, EmailMessage)
    head = _head(message, raw, len(raw))
    if head.problem is not None:
        return head
    return _with(
        head,
        text=_text(message),
        attachments=tuple(_attachments(message)),
        report=delivery_report(message, head.sender),
    )


def parse_head(raw: bytes, size: int) -> ParsedMail:
    """Only the header block (for a message refused for its size: its key, sender, subject)."""
    message = BytesHeaderParser(policy=_policy()).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return _head(message, raw, size)


def strip_quoted(text: str) -> str:
    """The new words of a reply: quoted history and the "On … wrote:" block removed (Gmail,
    Outlook, Apple Mail and others, several languages); the whole text if nothing is left."""
    if not text.strip():
        return ""
    try:
        reply = _reply_parser().parse_reply(text)
    except Exception:  # noqa: BLE001 - a parser failure keeps the whole text, never the mail
        return text.strip()
    return reply.strip() or text.strip()


class _ParsedOnce(HeaderRegistry):
    """The `default` policy's header classes, each header value parsed once per message: the
    library parses a header again on every read (and makes its class anew each time), and
    reading a part's type, charset and filename reads Content-Type many times: two thirds of
    a plain mail's parse time went there."""

    def __init__(self) -> None:
        super().__init__()
        self._parsed: dict[tuple[str, str], BaseHeader] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        return _header_class(name.lower())

    def __call__(self, name: str, value: str) -> BaseHeader:
        key = (name.lower(), value)
        found = self._parsed.get(key)
        if found is None:
            found = self._parsed[key] = _header_class(key[0])(name, value)
        return found


@lru_cache(maxsize=256)  # bounded: header names are the sender's to choose
def _header_class(name: str) -> type[BaseHeader]:
    # What HeaderRegistry.__getitem__ makes on every call; the classes hold no state.
    made: type[BaseHeader] = HeaderRegistry().__getitem__(name)
    return made


def _policy() -> EmailPolicy[EmailMessage]:
    """The `default` policy with a header cache of its own (one per message parsed)."""
    return default_policy.clone(header_factory=_ParsedOnce())


@cache
def _reply_parser() -> EmailReplyParser:
    return EmailReplyParser(languages=REPLY_LANGUAGES)


def _head(message: EmailMessage, raw: bytes, size: int) -> ParsedMail:
    message_id = _first_id(_raw(message, "message-id"))
    key = message_id or digest_key(raw)
    if not message.keys():
        return ParsedMail(key, size, problem="no header block")
    sender, sender_name = _from(message)
    auto = {name: value for name in _AUTO_HEADERS if (value := _header(message, name)) is not None}
    head = ParsedMail(
        message_key=key,
        size=size,
        message_id=message_id,
        sender=sender,
        sender_name=sender_name,
        subject=_subject(message),
        in_reply_to=tuple(_MSG_ID.findall(_raw(message, "in-reply-to") or "")),
        references=tuple(_MSG_ID.findall(_raw(message, "references") or "")),
        delivered_to=_addresses(message, "delivered-to"),
        original_to=_addresses(message, "x-original-to"),
        to=_addresses(message, "to"),
        cc=_addresses(message, "cc"),
        auto_headers=auto,
        authentication_results=tuple(_all(message, "authentication-results")),
    )
    if sender is None:
        return _with(head, problem="no From address")
    return head


def _with(head: ParsedMail, **changes: object) -> ParsedMail:
    from dataclasses import replace

    return replace(head, **changes)  # type: ignore[arg-type]


def _header(message: Message, name: str) -> str | None:
    try:
        value = message.get(name)
    except Exception:  # noqa: BLE001 - an undecodable header counts as absent
        return None
    return None if value is None else str(value)


def _raw(message: Message, name: str) -> str | None:
    """A header's first value as it came: Message-IDs are ASCII by rule and read by pattern,
    so the library's parse of them (a tenth of a plain mail's parse time) buys nothing."""
    for key, value in message.raw_items():
        if key.lower() == name:
            return str(value)
    return None


def _all(message: Message, name: str) -> list[str]:
    try:
        return [str(v) for v in message.get_all(name, [])]
    except Exception:  # noqa: BLE001
        return []


def _first_id(value: str | None) -> str | None:
    if not value:
        return None
    found = _MSG_ID.search(value)
    return found.group(0) if found else None


def _addresses(message: Message, name: str) -> tuple[str, ...]:
    found: list[str] = []
    try:
        headers = message.get_all(name, [])
    except Exception:  # noqa: BLE001
        return ()
    for header in headers:
        if isinstance(header, AddressHeader):
            found += [a.addr_spec for a in header.addresses]
        else:
            found += [a for _, a in getaddresses([str(header)])]
    return tuple(a.strip().lower() for a in found if _plausible(a))


def _plausible(address: str) -> bool:
    local, at, domain = address.strip().rpartition("@")
    return bool(at and local and domain) and len(address) <= _ADDRESS_MAX and address.isprintable()


def _from(message: Message) -> tuple[str | None, str | None]:
    try:
        header = message.get("from")
    except Exception:  # noqa: BLE001
        return None, None
    if isinstance(header, AddressHeader) and header.addresses:
        first = header.addresses[0]
        if _plausible(first.addr_spec):
            return first.addr_spec.lower(), first.display_name or None
    found = _addresses(message, "from")
    return (found[0], None) if found else (None, None)


def _subject(message: Message) -> str:
    value = _header(message, "subject") or ""
    one_line = " ".join(value.split())
    return one_line[:_SUBJECT_MAX]


def _decoded(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if isinstance(content, bytes):
        return content.decode("utf-8", "replace")
    return str(content)


def _text(message: EmailMessage) -> str:
    """The text part, else the HTML part as a browser would show it."""
    try:
        body = message.get_body(preferencelist=("plain", "html"))
    except Exception:  # noqa: BLE001 - a broken structure has no body we can find
        body = None
    if body is None:
        return ""
    assert isinstance(body, EmailMessage)
    content = _decoded(body)
    if body.get_content_subtype() == "html":
        content = get_text(content)
    return content.replace("\r\n", "\n").replace("\x00", "").strip()


def _attachments(message: EmailMessage) -> list[MailAttachment]:
    if not message.is_multipart() or message.get_content_type() == "multipart/report":
        return []
    found = []
    try:
        parts = list(message.iter_attachments())
    except Exception:  # noqa: BLE001
        return []
    for index, part in enumerate(parts, start=1):
        assert isinstance(part, EmailMessage)
        payload = part.get_payload(decode=True)
        if part.get_content_maintype() == "multipart" or not isinstance(payload, bytes):
            if part.get_content_type() == "message/rfc822":
                payload = part.as_bytes()
            else:
                continue
        name = part.get_filename() or f"attachment-{index}"
        found.append(MailAttachment(name, part.get_content_type(), payload))
    return found
