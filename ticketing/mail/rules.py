"""The intake decision: which outcome a parsed mail gets and which ticket it lands on.

Pure code over the parsed message and the facts read from the database, applied in the
contract's order: bounce → own address → auto-generated or list → per-sender rate →
authorization → threading → create.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from ticketing.mail.authentication import authenticated
from ticketing.mail.models import MailOutcome, SenderPolicy
from ticketing.mail.parsing import ParsedMail

_TICKET_REF = re.compile(r"\[(TKT-\d{6,})\]", re.IGNORECASE)
# Customers registered on first mail get an id derived from tenant and address: a retry or a
# second mailbox registers the same customer.
_CUSTOMER_NAMESPACE = uuid.UUID("0b6f3a52-8a55-4f0e-9f43-2d0f5c1b7a11")


@dataclass(frozen=True)
class MailboxPolicy:
    address: str
    tenant_id: str
    senders: SenderPolicy = SenderPolicy.CUSTOMERS
    domains: tuple[str, ...] = ()
    require_auth: bool = False


@dataclass(frozen=True)
class ThreadFacts:
    """The ticket a mail names (by subject number or Message-ID) and who belongs to it."""

    ticket_id: uuid.UUID
    customer_id: str
    # The customer's address(es) and those the customer copied, lower-case.
    participants: frozenset[str]
    closed: bool = False


@dataclass(frozen=True)
class IntakeFacts:
    mailbox: MailboxPolicy
    # The sender is one of our mailboxes or the product's own sender address.
    sender_is_own: bool = False
    # The notices a delivery report names (by Message-ID or recipient).
    reported_notices: tuple[int, ...] = ()
    # Mails from this sender to this tenant within the last hour, this one not counted.
    recent_from_sender: int = 0
    max_per_hour: int = 20
    # The sender's customer in this tenant, if registered.
    customer_id: str | None = None
    thread: ThreadFacts | None = None
    authserv_id: str | None = None
    # An operator released this held mail: rate and authorization no longer hold it.
    released: bool = False


@dataclass(frozen=True)
class Decision:
    outcome: MailOutcome
    reason: str | None = None
    # appended: the ticket; created: the customer (registered now when `register`).
    ticket_id: uuid.UUID | None = None
    customer_id: str | None = None
    register: bool = False


def ticket_numbers(subject: str) -> list[str]:
    """`[TKT-000123]` references in a subject, upper-cased, in order."""
    return [m.upper() for m in _TICKET_REF.findall(subject)]


def customer_id_for(tenant_id: str, address: str) -> str:
    """The id of a customer registered by its first mail."""
    return str(uuid.uuid5(_CUSTOMER_NAMESPACE, f"{tenant_id}:{address.lower()}"))


def auto_generated(mail: ParsedMail) -> str | None:
    """Why the mail is machine-made or list traffic (RFC 3834, RFC 2369/2919), else None."""
    headers = mail.auto_headers
    submitted = headers.get("auto-submitted")
    if submitted is not None and submitted.split(";")[0].strip().lower() != "no":
        return f"Auto-Submitted: {submitted.strip()[:100]}"
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in ("bulk", "junk", "list"):
        return f"Precedence: {precedence}"
    if "list-id" in headers:
        return "List-Id: list mail"
    for name in ("x-autoreply", "x-autorespond"):
        if name in headers:
            return f"{name}: auto-reply"
    return None


def decide(mail: ParsedMail, facts: IntakeFacts) -> Decision:
    """The outcome of one mail, by the contract's rules in the contract's order."""
    if mail.problem is not None:
        return Decision(MailOutcome.REJECTED, mail.problem)
    assert mail.sender is not None
    if mail.report is not None:
        if facts.reported_notices:
            return Decision(MailOutcome.BOUNCE, mail.report.reason)
        return Decision(MailOutcome.IGNORED, "delivery report about no notice of ours")
    if facts.sender_is_own:
        return Decision(MailOutcome.IGNORED, "sent by our own address")
    if (why := auto_generated(mail)) is not None:
        return Decision(MailOutcome.IGNORED, why)
    if not facts.released:
        if facts.recent_from_sender >= facts.max_per_hour:
            return Decision(
                MailOutcome.HELD,
                f"over the rate: more than {facts.max_per_hour} mails from this sender in an hour",
            )
        if (why := unauthorized(mail, facts)) is not None:
            return Decision(MailOutcome.HELD, why)
    thread = facts.thread
    if thread is not None and not thread.closed and mail.sender in thread.participants:
        return Decision(MailOutcome.APPENDED, ticket_id=thread.ticket_id)
    if facts.customer_id is not None:
        return Decision(MailOutcome.CREATED, customer_id=facts.customer_id)
    return Decision(
        MailOutcome.CREATED,
        customer_id=customer_id_for(facts.mailbox.tenant_id, mail.sender),
        register=True,
    )


def unauthorized(mail: ParsedMail, facts: IntakeFacts) -> str | None:
    """Why the sender may not open or answer tickets at this mailbox, or None if it may."""
    assert mail.sender is not None
    policy = facts.mailbox
    if policy.require_auth and not authenticated(
        mail.authentication_results, facts.authserv_id, mail.sender
    ):
        return "not authenticated: no dmarc=pass or aligned dkim=pass by the trusted MTA"
    if facts.customer_id is not None or policy.senders is SenderPolicy.ANYONE:
        return None
    if facts.thread is not None and mail.sender in facts.thread.participants:
        return None
    domain = mail.sender.rpartition("@")[2]
    if policy.senders is SenderPolicy.DOMAINS and domain in policy.domains:
        return None
    return "not authorized: the sender is not a registered customer of this tenant"
