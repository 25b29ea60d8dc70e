"""All SQL of the email channel: mailboxes, received mail rows, the facts intake decides on."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.core.enums import TicketStatus
from ticketing.mail.models import InboundMail, Mailbox, MailOutcome, TicketParticipant
from ticketing.mail.rules import ThreadFacts
from ticketing.tickets.models import Ticket

# -- mailboxes ----------------------------------------------------------------------------


async def mailbox_of_tenant(session: AsyncSession, tenant_id: str) -> str | None:
    """The address a tenant's notices go out from: its first mailbox."""
    stmt = (
        select(Mailbox.address)
        .where(Mailbox.tenant_id == tenant_id)
        .order_by(Mailbox.created_at, Mailbox.address)
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_mailboxes(session: AsyncSession, tenant_id: str | None) -> list[Mailbox]:
    stmt = select(Mailbox).order_by(Mailbox.tenant_id, Mailbox.address)
    if tenant_id is not None:
        stmt = stmt.where(Mailbox.tenant_id == tenant_id)
    return list((await session.execute(stmt)).scalars())


async def imap_mailboxes(session: AsyncSession) -> list[Mailbox]:
    stmt = select(Mailbox).where(Mailbox.imap_url.is_not(None)).order_by(Mailbox.address)
    return list((await session.execute(stmt)).scalars())


async def get_mailbox(session: AsyncSession, address: str) -> Mailbox | None:
    return await session.get(Mailbox, address.lower())


# -- received mail ------------------------------------------------------------------------


async def get_mail(session: AsyncSession, mail_id: int) -> InboundMail | None:
    return await session.get(InboundMail, mail_id)


async def list_mails(
    session: AsyncSession, *, outcome: MailOutcome | None, limit: int
) -> list[InboundMail]:
    stmt = select(InboundMail).order_by(InboundMail.id.desc()).limit(limit)
    if outcome is not None:
        stmt = stmt.where(InboundMail.outcome == outcome)
    return list((await session.execute(stmt)).scalars())


# A mail that became a ticket or a reply also clears its sender's bounce flag: the address
# works again (in the same statement, so intake pays no round trip for it).
_DECIDE = text(
    """
WITH decided AS (
    UPDATE inbound_mails SET outcome = :outcome, reason = :reason, ticket_id = :ticket_id,
           ticket_message_id = :message_id, decided_at = :now
    WHERE id = :id AND outcome IS NOT DISTINCT FROM :expected
    RETURNING id, tenant_id, sender
), cleared AS (
    DELETE FROM bounced_addresses b USING decided d
    WHERE CAST(:outcome AS text) IN ('created', 'appended')
      AND b.tenant_id = d.tenant_id AND b.address = lower(d.sender)
)
SELECT id FROM decided
"""
)


async def record_outcome(
    session: AsyncSession,
    mail_id: int,
    *,
    expected: MailOutcome | None,
    outcome: MailOutcome,
    reason: str | None,
    now: datetime,
    ticket_id: uuid.UUID | None = None,
    message_id: int | None = None,
) -> bool:
    """Set the outcome if the row still has `expected`; False when another delivery (or a
    retry) decided it first."""
    done = await session.execute(
        _DECIDE,
        {
            "id": mail_id,
            "expected": expected.value if expected else None,
            "outcome": outcome.value,
            "reason": reason[:2000] if reason else None,
            "ticket_id": ticket_id,
            "message_id": message_id,
            "now": now,
        },
    )
    return done.first() is not None


# Counted up to the limit only: the answer is "at the limit or not", and a sender flooding
# a tenant must not make every one of its mails scan all it sent within the hour.
_RECENT = text(
    "SELECT count(*) FROM (SELECT 1 FROM inbound_mails WHERE tenant_id = :tenant_id"
    " AND sender = :sender AND received_at > :since AND id <> :id LIMIT :limit) AS recent"
)


async def recent_from_sender(
    session: AsyncSession,
    tenant_id: str,
    sender: str,
    *,
    now: datetime,
    mail_id: int,
    limit: int,
) -> int:
    """Mails from `sender` to the tenant within the hour before `now`, counted up to `limit`."""
    since = now - timedelta(hours=1)
    params = {
        "tenant_id": tenant_id,
        "sender": sender,
        "since": since,
        "id": mail_id,
        "limit": limit,
    }
    return int((await session.execute(_RECENT, params)).scalar_one())


# -- facts about senders, tickets and notices ---------------------------------------------

# Through migration 0027's view: under the policies `lower(email)` cannot use an index.
_CUSTOMER_BY_EMAIL = text(
    "SELECT c.id FROM customer_email_keys k"
    " JOIN customers c ON c.tenant_id = k.tenant_id AND c.id = k.id"
    " WHERE k.tenant_id = :tenant_id AND k.email_key = :email"
    " ORDER BY c.created_at, c.id LIMIT 1"
)


async def customer_by_email(session: AsyncSession, tenant_id: str, address: str) -> str | None:
    params = {"tenant_id": tenant_id, "email": address.lower()}
    return (await session.execute(_CUSTOMER_BY_EMAIL, params)).scalar_one_or_none()


_TICKET_BY_NUMBER = text("SELECT id FROM tickets WHERE tenant_id = :tenant_id AND number = :n")
_TICKET_BY_MESSAGE_ID = text(
    """
SELECT ticket_id FROM inbound_mails
 WHERE tenant_id = :tenant_id AND message_id = ANY(:ids) AND ticket_id IS NOT NULL
UNION ALL
SELECT ticket_id FROM notifications
 WHERE tenant_id = :tenant_id AND message_id = ANY(:ids) AND ticket_id IS NOT NULL
LIMIT 1
"""
)
_TICKET_IN_TENANT = text("SELECT id FROM tickets WHERE tenant_id = :tenant_id AND id = :id")


async def ticket_by_number(session: AsyncSession, tenant_id: str, number: int) -> uuid.UUID | None:
    params = {"tenant_id": tenant_id, "n": number}
    return (await session.execute(_TICKET_BY_NUMBER, params)).scalar_one_or_none()


async def ticket_by_message_ids(
    session: AsyncSession, tenant_id: str, ids: list[str]
) -> uuid.UUID | None:
    if not ids:
        return None
    params = {"tenant_id": tenant_id, "ids": ids}
    return (await session.execute(_TICKET_BY_MESSAGE_ID, params)).scalar_one_or_none()


async def ticket_in_tenant(
    session: AsyncSession, tenant_id: str, ticket_id: uuid.UUID
) -> uuid.UUID | None:
    params = {"tenant_id": tenant_id, "id": ticket_id}
    return (await session.execute(_TICKET_IN_TENANT, params)).scalar_one_or_none()


_THREAD = text(
    """
SELECT t.customer_id, t.status, lower(t.requester_email), lower(c.email),
       ARRAY(SELECT p.address FROM ticket_participants p WHERE p.ticket_id = t.id)
FROM tickets t JOIN customers c ON c.tenant_id = t.tenant_id AND c.id = t.customer_id
WHERE t.id = :id
"""
)


async def thread_facts(session: AsyncSession, ticket_id: uuid.UUID) -> ThreadFacts | None:
    row = (await session.execute(_THREAD, {"id": ticket_id})).first()
    if row is None:
        return None
    customer_id, status, requester, email, copied = row
    people = {a for a in (requester, email, *copied) if a}
    return ThreadFacts(
        ticket_id=ticket_id,
        customer_id=customer_id,
        participants=frozenset(people),
        closed=status == TicketStatus.CLOSED.value,
    )


async def add_participants(
    session: AsyncSession,
    *,
    tenant_id: str,
    ticket_id: uuid.UUID,
    addresses: Iterable[str],
    now: datetime,
) -> None:
    rows = [
        {"tenant_id": tenant_id, "ticket_id": ticket_id, "address": a, "created_at": now}
        for a in sorted(set(addresses))
    ]
    if rows:
        await session.execute(
            pg_insert(TicketParticipant)
            .values(rows)
            .on_conflict_do_nothing(
                index_elements=[TicketParticipant.ticket_id, TicketParticipant.address]
            )
        )


_NOTICES_BY_ID = text(
    "SELECT id FROM notifications WHERE tenant_id = :tenant_id AND message_id = ANY(:ids)"
)
_NOTICE_BY_RECIPIENT = text(
    "SELECT id FROM notifications WHERE tenant_id = :tenant_id AND lower(recipient) = :r"
    " AND status = 'sent' ORDER BY sent_at DESC, id DESC LIMIT 1"
)


async def reported_notices(
    session: AsyncSession, tenant_id: str, message_ids: Iterable[str], recipients: Iterable[str]
) -> tuple[int, ...]:
    """The notices a delivery report is about: by the returned Message-ID, else the latest
    notice sent to each failed recipient."""
    ids = list(message_ids)
    if ids:
        found = (
            await session.execute(_NOTICES_BY_ID, {"tenant_id": tenant_id, "ids": ids})
        ).scalars()
        by_id = tuple(found)
        if by_id:
            return by_id
    by_recipient = []
    for address in dict.fromkeys(recipients):
        params = {"tenant_id": tenant_id, "r": address.lower()}
        if (found_id := (await session.execute(_NOTICE_BY_RECIPIENT, params)).scalar()) is not None:
            by_recipient.append(found_id)
    return tuple(by_recipient)


_FAIL_NOTICES = text(
    "UPDATE notifications SET status = 'failed', failed_at = coalesce(failed_at, :now),"
    " reason = :reason WHERE id = ANY(:ids)"
)


async def mark_notices_bounced(
    session: AsyncSession, ids: tuple[int, ...], reason: str, now: datetime
) -> None:
    params = {"ids": list(ids), "reason": f"bounced: {reason}"[:1000], "now": now}
    await session.execute(_FAIL_NOTICES, params)


_LAST_MESSAGE = text("SELECT max(id) FROM ticket_messages WHERE ticket_id = :ticket_id")


async def last_message_id(session: AsyncSession, ticket_id: uuid.UUID) -> int | None:
    return (await session.execute(_LAST_MESSAGE, {"ticket_id": ticket_id})).scalar()


async def received_mail(
    session: AsyncSession, *, outcome: MailOutcome | None, limit: int
) -> list[tuple[InboundMail, int | None]]:
    """Received mail newest first, with its ticket's number (scoped by the session's RLS)."""
    stmt = (
        select(InboundMail, Ticket.number)
        .outerjoin(Ticket, Ticket.id == InboundMail.ticket_id)
        .order_by(InboundMail.id.desc())
        .limit(limit)
    )
    if outcome is not None:
        stmt = stmt.where(InboundMail.outcome == outcome)
    return [(mail, number) for mail, number in (await session.execute(stmt)).all()]


async def ticket_of_mail(session: AsyncSession, mail_id: int) -> uuid.UUID | None:
    stmt = select(InboundMail.ticket_id).where(InboundMail.id == mail_id)
    return (await session.execute(stmt)).scalar_one_or_none()
