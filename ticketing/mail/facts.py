"""The facts intake decides on, read in one scoped session: counts, customers, threads."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.mail import repository as repo
from ticketing.mail.intake_repository import SenderFacts
from ticketing.mail.parsing import ParsedMail
from ticketing.mail.rules import IntakeFacts, MailboxPolicy, ThreadFacts, ticket_numbers
from ticketing.notifications.rendering import ticket_id_from_references
from ticketing.tickets.numbering import parse_ticket_number


@dataclass(frozen=True)
class IntakePolicy:
    max_per_hour: int = 20
    authserv_id: str | None = None
    mail_domain: str = "localhost"


def wants_sender_facts(mail: ParsedMail) -> bool:
    """Whether the rules will read the sender's rate and customer (not for a mail rejected
    for its form, nor for a delivery report)."""
    return mail.problem is None and mail.sender is not None and mail.report is None


async def read_facts(
    session: AsyncSession,
    policy: IntakePolicy,
    mail_id: int,
    mail: ParsedMail,
    mailbox: MailboxPolicy,
    *,
    own: bool,
    released: bool,
    sender: SenderFacts | None = None,
) -> IntakeFacts:
    """Everything `rules.decide` needs beyond the message; `session` is bound to the
    mailbox's tenant. `sender`: the sender's facts when the store already read them."""
    facts = IntakeFacts(
        mailbox=mailbox,
        sender_is_own=own,
        max_per_hour=policy.max_per_hour,
        authserv_id=policy.authserv_id,
        released=released,
    )
    if mail.problem is not None or mail.sender is None:
        return facts
    tenant = mailbox.tenant_id
    if mail.report is not None:
        found = await repo.reported_notices(
            session, tenant, mail.report.original_message_ids, mail.report.recipients
        )
        return replace(facts, reported_notices=found)
    if sender is None:
        sender = SenderFacts(
            recent_from_sender=await repo.recent_from_sender(
                session,
                tenant,
                mail.sender,
                now=datetime.now(UTC),
                mail_id=mail_id,
                limit=policy.max_per_hour,
            ),
            customer_id=await repo.customer_by_email(session, tenant, mail.sender),
        )
    thread = None
    if mail.thread_ids or ticket_numbers(mail.subject):
        thread = await thread_of(session, tenant, mail, policy.mail_domain)
    return replace(
        facts,
        recent_from_sender=sender.recent_from_sender,
        customer_id=sender.customer_id,
        thread=thread,
    )


async def thread_of(
    session: AsyncSession, tenant_id: str, mail: ParsedMail, mail_domain: str
) -> ThreadFacts | None:
    """The first ticket the mail names (subject number, then Message-IDs) whose participants
    include the sender; a guessed number alone names nothing."""
    named: list[uuid.UUID] = []
    for number in ticket_numbers(mail.subject):
        value = parse_ticket_number(number)
        if value is not None and (found := await repo.ticket_by_number(session, tenant_id, value)):
            named.append(found)
    ids = list(mail.thread_ids)
    if (found := await repo.ticket_by_message_ids(session, tenant_id, ids)) is not None:
        named.append(found)
    root = ticket_id_from_references(" ".join(ids), mail_domain)
    if root is not None and (found := await repo.ticket_in_tenant(session, tenant_id, root)):
        named.append(found)
    for ticket_id in dict.fromkeys(named):
        facts = await repo.thread_facts(session, ticket_id)
        if facts is not None and mail.sender in facts.participants:
            return facts
    return None
