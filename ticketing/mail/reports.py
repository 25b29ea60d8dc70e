"""Delivery reports: RFC 3464 `multipart/report; report-type=delivery-status`, and the older
formats flufl.bounce recognises (Exim, Postfix, qmail, Sendmail…)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.policy import default as default_policy

from flufl.bounce import all_failures

_MSG_ID = re.compile(r"<[^<>\s]{1,298}>")
# Senders of delivery reports that use no standard format.
_DAEMONS = ("mailer-daemon@", "postmaster@")


@dataclass(frozen=True)
class DeliveryReport:
    """Who could not be reached, why, and which of our messages it was about (if it says)."""

    recipients: tuple[str, ...]
    reason: str
    original_message_ids: tuple[str, ...] = ()
    # Failed for good (a 5.x.x status, or a detector's permanent failure): the addresses are
    # flagged; a temporary failure only fails the notice.
    permanent: bool = False


def delivery_report(message: EmailMessage, sender: str | None) -> DeliveryReport | None:
    """The report this message is, or None when it is no delivery report."""
    if message.get_content_type() == "multipart/report":
        report_type = str(message.get_param("report-type", "") or "").lower()
        if report_type == "delivery-status":
            return _rfc3464(message)
    if sender is not None and not sender.startswith(_DAEMONS):
        return None
    # Only mail from a mailer daemon is scanned: the detectors are too costly (and too
    # eager) to run on every customer's mail.
    try:
        permanent, temporary = all_failures(message)
    except Exception:  # noqa: BLE001 - a detector failing on odd input is no report
        return None
    # Some detectors (Exim's X-Failed-Recipients) cannot tell permanent from temporary and
    # say temporary; a daemon's report that names failed recipients counts either way.
    failed = permanent or temporary
    if not failed:
        return None
    recipients = tuple(sorted(a.decode("utf-8", "replace").lower() for a in failed))
    why = "permanent delivery failure" if permanent else "delivery failure"
    return DeliveryReport(recipients, why, _original_ids(message), permanent=bool(permanent))


def _rfc3464(message: EmailMessage) -> DeliveryReport:
    recipients: list[str] = []
    reasons: list[str] = []
    permanent = False
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else []
        for block in blocks[1:]:  # the first block is about the reporting MTA
            if not isinstance(block, Message):
                continue
            action = str(block.get("action", "")).strip().lower()
            if action and action not in ("failed", "delayed"):
                continue
            if action == "delayed":
                continue
            address = _address(block.get("final-recipient") or block.get("original-recipient"))
            if address:
                recipients.append(address)
            status = str(block.get("status", "")).strip()
            permanent = permanent or status.startswith("5")
            diagnostic = " ".join(str(block.get("diagnostic-code", "")).split())
            reasons.append(" ".join(x for x in (status, diagnostic) if x))
    reason = "; ".join(r for r in reasons if r) or "delivery failed"
    return DeliveryReport(
        tuple(recipients), reason[:1000], _original_ids(message), permanent=permanent
    )


def _address(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    kind, sep, address = text.partition(";")
    address = (address if sep else kind).strip().strip("<>").lower()
    return address or None


def _original_ids(message: EmailMessage) -> tuple[str, ...]:
    """Message-IDs of the returned message (its headers travel with most reports)."""
    found: list[str] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message) and inner.get("message-id"):
                found += _MSG_ID.findall(str(inner.get("message-id")))
        elif kind == "text/rfc822-headers":
            content = part.get_payload(decode=True)
            if isinstance(content, bytes):
                headers = HeaderParser(policy=default_policy).parsestr(
                    content.decode("utf-8", "replace")
                )
                found += _MSG_ID.findall(str(headers.get("message-id", "")))
    return tuple(dict.fromkeys(found))
