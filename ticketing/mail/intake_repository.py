"""The intake's hot statements, on the driver: each received mail's mailbox lookup, its raw
message stored with what the decision reads about its sender, and its outcome.

One statement each, none inside an explicit transaction: the store commits by itself before
anything is decided (a crash after it leaves an undecided row that the retry finds), and an
outcome that is the only write commits by itself too. Through the ORM these were two
transactions of three to five round trips each.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.driver import driver_connection
from ticketing.mail.models import MailOutcome, SenderPolicy
from ticketing.mail.parsing import ParsedMail
from ticketing.mail.rules import MailboxPolicy

_MAILBOXES = (
    "SELECT address, tenant_id, senders, domains, require_auth FROM mailboxes"
    " WHERE address = ANY($1::text[])"
)


async def mailboxes_named(
    session: AsyncSession, addresses: Iterable[str]
) -> dict[str, MailboxPolicy]:
    """The mailboxes (of any tenant: the caller's system scope) among `addresses`."""
    wanted = sorted({a.lower() for a in addresses if a})
    if not wanted:
        return {}
    driver = await driver_connection(session, transaction=None)
    return {
        row[0]: MailboxPolicy(
            address=row[0],
            tenant_id=row[1],
            senders=SenderPolicy(row[2]),
            domains=tuple(json.loads(row[3]) if isinstance(row[3], str) else row[3]),
            require_auth=row[4],
        )
        for row in await driver.fetch(_MAILBOXES, wanted)
    }


@dataclass(frozen=True)
class SenderFacts:
    """What the rate and authorization rules read about the sender, with the store."""

    recent_from_sender: int
    customer_id: str | None


@dataclass(frozen=True)
class StoredMail:
    id: int
    outcome: MailOutcome | None
    # None when the store could not read them in its own statement (see store_mail).
    sender: SenderFacts | None = None


# Stored once per tenant and key; in the same statement, the row already there (a second
# copy, or a retry of an undecided one) and, when `$10`, the sender's mails within the hour
# (counted up to the limit, this one not counted: a row the INSERT adds is not visible to the
# rest of its own statement, and a retried one is excluded by id) and its customer (through
# migration 0027's view: under the policies `lower(email)` cannot use an index).
_STORE = """
WITH new AS (
  INSERT INTO inbound_mails (tenant_id, mailbox, message_key, message_id, sender, subject,
                             size, raw, received_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
  ON CONFLICT (tenant_id, message_key) DO NOTHING
  RETURNING id
), old AS (
  SELECT id, outcome FROM inbound_mails WHERE tenant_id = $1 AND message_key = $3
)
SELECT (SELECT id FROM new), (SELECT id FROM old), (SELECT outcome FROM old),
  CASE WHEN $10 THEN (
    SELECT count(*) FROM (
      SELECT 1 FROM inbound_mails
       WHERE tenant_id = $1 AND sender = $5 AND received_at > $11
         AND id <> coalesce((SELECT id FROM old), 0)
       LIMIT $12) AS recent) END,
  CASE WHEN $10 THEN (
    SELECT c.id FROM customer_email_keys k
      JOIN customers c ON c.tenant_id = k.tenant_id AND c.id = k.id
     WHERE k.tenant_id = $1 AND k.email_key = $5
     ORDER BY c.created_at, c.id LIMIT 1) END
"""
_EXISTING = "SELECT id, outcome FROM inbound_mails WHERE tenant_id = $1 AND message_key = $2"


async def store_mail(
    session: AsyncSession,
    *,
    tenant_id: str,
    mailbox: str,
    mail: ParsedMail,
    raw: bytes | None,
    now: datetime,
    read_sender: bool,
    max_per_hour: int,
) -> StoredMail:
    """Keep the raw message once per tenant and key (committed by this statement alone); a
    second copy finds the first. `read_sender`: also read the sender's facts."""
    driver = await driver_connection(session, transaction=False)
    row = await driver.fetchrow(
        _STORE,
        tenant_id,
        mailbox,
        mail.message_key,
        mail.message_id,
        mail.sender,
        mail.subject[:200] or None,
        mail.size,
        raw,
        now,
        read_sender,
        now - timedelta(hours=1),
        max_per_hour,
    )
    new_id, old_id, old_outcome, recent, customer_id = cast(Sequence[Any], row)
    sender = SenderFacts(int(recent), customer_id) if read_sender else None
    if new_id is not None:
        return StoredMail(new_id, None, sender)
    if old_id is not None:
        return StoredMail(old_id, MailOutcome(old_outcome) if old_outcome else None, sender)
    # Another delivery of this mail inserted it while this statement ran: its row was not in
    # this statement's snapshot, it is in the next one's.
    existing = await driver.fetchrow(_EXISTING, tenant_id, mail.message_key)
    found_id, found_outcome = cast(Sequence[Any], existing)
    return StoredMail(found_id, MailOutcome(found_outcome) if found_outcome else None)


# As repository.record_outcome: a mail that became a ticket also clears its sender's bounce
# flag (the address works again), in the same statement.
_DECIDE = """
WITH decided AS (
  UPDATE inbound_mails SET outcome = $2, reason = $3, ticket_id = $4, decided_at = $5
   WHERE id = $1 AND outcome IS NOT DISTINCT FROM $6
  RETURNING id, tenant_id, sender
), cleared AS (
  DELETE FROM bounced_addresses b USING decided d
   WHERE CAST($2 AS text) IN ('created', 'appended')
     AND b.tenant_id = d.tenant_id AND b.address = lower(d.sender)
)
SELECT id FROM decided
"""


async def record_outcome_alone(
    session: AsyncSession,
    mail_id: int,
    *,
    expected: MailOutcome | None,
    outcome: MailOutcome,
    reason: str | None,
    now: datetime,
    ticket_id: uuid.UUID | None = None,
) -> bool:
    """Set the outcome if the row still has `expected`, committed by this statement alone
    (when it is the only write of the decision); False when another delivery (or a retry)
    decided it first."""
    driver = await driver_connection(session, transaction=False)
    done = await driver.fetchval(
        _DECIDE,
        mail_id,
        outcome.value,
        reason[:2000] if reason else None,
        ticket_id,
        now,
        expected.value if expected else None,
    )
    return done is not None
