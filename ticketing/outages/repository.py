"""All SQL of outages: the outage rows, affected customers by tag, links and bulk notices."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.outages.models import Outage, OutageUpdate
from ticketing.outages.schemas import OutageStatus
from ticketing.tenants.models import Customer
from ticketing.tickets.models import Ticket

UNSOLVED = ("open", "in_progress", "pending")


async def get_outage(
    session: AsyncSession, tenant_id: str | None, number: int, *, for_update: bool = False
) -> Outage | None:
    """The outage with this parent number, in the tenant (any visible tenant when None)."""
    query = select(Outage).where(Outage.number == number)
    if tenant_id is not None:
        query = query.where(Outage.tenant_id == tenant_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def outage_by_declare_key(session: AsyncSession, tenant_id: str, key: str) -> Outage | None:
    query = select(Outage).where(Outage.tenant_id == tenant_id, Outage.declare_key == key)
    return (await session.execute(query)).scalar_one_or_none()


async def list_outages(
    session: AsyncSession,
    tenant_id: str | None,
    status: OutageStatus | None,
    before: int | None,
    limit: int,
) -> list[Outage]:
    """Newest first; keyset on the parent number."""
    query = select(Outage).order_by(Outage.number.desc()).limit(limit)
    if tenant_id is not None:
        query = query.where(Outage.tenant_id == tenant_id)
    if status is not None:
        query = query.where(Outage.status == status)
    if before is not None:
        query = query.where(Outage.number < before)
    return list((await session.execute(query)).scalars())


async def active_outages_for_tag(session: AsyncSession, tenant_id: str, tag: str) -> list[Outage]:
    query = select(Outage).where(
        Outage.tenant_id == tenant_id,
        Outage.status == OutageStatus.ACTIVE,
        Outage.tags.contains([tag]),
    )
    return list((await session.execute(query.order_by(Outage.number))).scalars())


async def updates_of(session: AsyncSession, outage_id: uuid.UUID) -> list[OutageUpdate]:
    query = select(OutageUpdate).where(OutageUpdate.outage_id == outage_id)
    return list((await session.execute(query.order_by(OutageUpdate.seq))).scalars())


async def update_by_seq(session: AsyncSession, outage_id: uuid.UUID, seq: int) -> OutageUpdate:
    query = select(OutageUpdate).where(OutageUpdate.outage_id == outage_id, OutageUpdate.seq == seq)
    return (await session.execute(query)).scalar_one()


async def update_by_key(
    session: AsyncSession, outage_id: uuid.UUID, key: str
) -> OutageUpdate | None:
    query = select(OutageUpdate).where(
        OutageUpdate.outage_id == outage_id, OutageUpdate.idempotency_key == key
    )
    return (await session.execute(query)).scalar_one_or_none()


async def count_affected(session: AsyncSession, tenant_id: str, tags: Sequence[str]) -> int:
    query = select(func.count()).where(
        Customer.tenant_id == tenant_id, Customer.tags.overlap(list(tags))
    )
    return int((await session.execute(query)).scalar_one())


async def linked_numbers(session: AsyncSession, tenant_id: str, number: int) -> list[int]:
    query = select(Ticket.number).where(
        Ticket.tenant_id == tenant_id, Ticket.outage_number == number
    )
    return list((await session.execute(query.order_by(Ticket.number))).scalars())


async def count_linked(session: AsyncSession, tenant_id: str, number: int) -> int:
    query = select(func.count()).where(
        Ticket.tenant_id == tenant_id, Ticket.outage_number == number
    )
    return int((await session.execute(query)).scalar_one())


@dataclass(frozen=True)
class ActiveOutage:
    """The active outage a customer is affected by, with its latest update."""

    ticket_id: uuid.UUID
    number: int
    seq: int
    body: str


_ACTIVE_FOR_CUSTOMER = text(
    """
SELECT o.ticket_id, o.number, o.seq, u.body
FROM outages o
JOIN customers c ON c.tenant_id = o.tenant_id AND c.id = :customer_id AND c.tags && o.tags
JOIN outage_updates u ON u.outage_id = o.ticket_id AND u.seq = o.seq
WHERE o.tenant_id = :tenant_id AND o.status = 'active'
ORDER BY o.number
LIMIT 1
"""
)


async def active_outage_for(
    session: AsyncSession, tenant_id: str, customer_id: str
) -> ActiveOutage | None:
    """The oldest active outage whose tags the customer carries now; None for most creates."""
    row = (
        await session.execute(
            _ACTIVE_FOR_CUSTOMER, {"tenant_id": tenant_id, "customer_id": customer_id}
        )
    ).first()
    return None if row is None else ActiveOutage(row[0], row[1], row[2], row[3])


_OUTAGE_ACTIVE = text(
    "SELECT EXISTS (SELECT 1 FROM outages WHERE tenant_id = :tenant_id AND number = :number"
    " AND status = 'active')"
)


async def outage_is_active(session: AsyncSession, tenant_id: str, number: int) -> bool:
    params = {"tenant_id": tenant_id, "number": number}
    return bool((await session.execute(_OUTAGE_ACTIVE, params)).scalar_one())


@dataclass(frozen=True)
class PageCustomer:
    customer_id: str
    email: str | None
    affected: bool
    has_linked: bool


# Customers affected now, and any with a ticket linked earlier (tags may have changed since),
# in id order after the cursor: the page position is a customer id, so a retried page neither
# skips nor repeats one.
_PAGE = text(
    """
SELECT c.id, c.email, c.tags && CAST(:tags AS varchar[]) AS affected,
       EXISTS (SELECT 1 FROM tickets t WHERE t.tenant_id = c.tenant_id
               AND t.customer_id = c.id AND t.outage_number = :number) AS has_linked
FROM customers c
WHERE c.tenant_id = :tenant_id AND c.id > :cursor
  AND (c.tags && CAST(:tags AS varchar[])
       OR EXISTS (SELECT 1 FROM tickets t WHERE t.tenant_id = c.tenant_id
                  AND t.customer_id = c.id AND t.outage_number = :number))
ORDER BY c.id
LIMIT :limit
"""
)


async def page_customers(
    session: AsyncSession, outage: Outage, cursor: str | None, limit: int
) -> list[PageCustomer]:
    rows = await session.execute(
        _PAGE,
        {
            "tenant_id": outage.tenant_id,
            "tags": list(outage.tags),
            "number": outage.number,
            "cursor": cursor or "",
            "limit": limit,
        },
    )
    return [PageCustomer(r[0], r[1], bool(r[2]), bool(r[3])) for r in rows]


# Link the unsolved tickets of these customers and stop their clocks: an open pause is added
# unless one is open already (a pending ticket's); the event says which outage.
_LINK = text(
    """
WITH linked AS (
    UPDATE tickets SET
        outage_number = :number,
        updated_at = :now,
        sla_pauses = CASE
            WHEN jsonb_path_exists(sla_pauses, '$[*] ? (@[1] == null)') THEN sla_pauses
            ELSE sla_pauses || jsonb_build_array(jsonb_build_array(CAST(:now_iso AS text), null))
        END
    WHERE tenant_id = :tenant_id AND customer_id = ANY(CAST(:customers AS varchar[]))
      AND status IN ('open', 'in_progress', 'pending') AND outage_number IS NULL
      AND id <> :parent
      AND (CAST(:opened_before AS timestamptz) IS NULL
           OR created_at < CAST(:opened_before AS timestamptz))
    RETURNING id, customer_id
), event AS (
    INSERT INTO ticket_events (ticket_id, kind, actor, data, created_at)
    SELECT id, 'outage_linked', :actor, CAST(:data AS jsonb), :now FROM linked
)
SELECT id, customer_id FROM linked
"""
)


async def link_tickets(
    session: AsyncSession,
    outage: Outage,
    customer_ids: Sequence[str],
    *,
    actor: str,
    ticket_number: str,
    now: datetime,
    opened_before: datetime | None = None,
) -> list[tuple[uuid.UUID, str]]:
    """Link the customers' unsolved tickets not linked yet (only those opened before
    `opened_before`, if given); (ticket id, customer) linked now."""
    if not customer_ids:
        return []
    rows = await session.execute(
        _LINK,
        {
            "number": outage.number,
            "now": now,
            "opened_before": opened_before,
            "now_iso": now.isoformat(),
            "tenant_id": outage.tenant_id,
            "customers": list(customer_ids),
            "parent": outage.ticket_id,
            "actor": actor,
            "data": json.dumps({"outage": ticket_number}),
        },
    )
    return [(r[0], r[1]) for r in rows]


async def linked_unsolved(
    session: AsyncSession, outage: Outage, customer_ids: Sequence[str]
) -> list[uuid.UUID]:
    """The customers' linked tickets still to resolve, oldest first."""
    query = (
        select(Ticket.id)
        .where(
            Ticket.tenant_id == outage.tenant_id,
            Ticket.outage_number == outage.number,
            Ticket.customer_id.in_(list(customer_ids)),
            Ticket.status.in_(UNSOLVED),
        )
        .order_by(Ticket.number)
    )
    return list((await session.execute(query)).scalars())


_QUEUE_MANY = text(
    """
INSERT INTO notifications (dedupe_key, ticket_id, tenant_id, kind, recipient, payload,
                           created_at, attempts, status, next_attempt_at)
SELECT x.key, :ticket_id, :tenant_id, :kind, x.email, CAST(:payload AS jsonb),
       now(), 0, 'queued', now()
FROM unnest(CAST(:keys AS varchar[]), CAST(:emails AS varchar[])) AS x(key, email)
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id
"""
)


async def queue_outage_notices(
    session: AsyncSession,
    *,
    ticket_id: uuid.UUID,
    tenant_id: str,
    kind: str,
    keys: Sequence[str],
    emails: Sequence[str],
    payload: dict[str, object],
) -> int:
    """One outbox row per (key, email) not queued before; how many were new."""
    if not keys:
        return 0
    rows = await session.execute(
        _QUEUE_MANY,
        {
            "ticket_id": ticket_id,
            "tenant_id": tenant_id,
            "kind": kind,
            "keys": list(keys),
            "emails": list(emails),
            "payload": json.dumps(payload),
        },
    )
    return len(rows.all())


_DROP_CREATED = text(
    "DELETE FROM notifications WHERE ticket_id = :ticket_id AND kind = 'ticket_created'"
    " AND status = 'queued'"
)


async def drop_created_notice(session: AsyncSession, ticket_id: uuid.UUID) -> None:
    """The parent's "we received your request": the tenant's own ticket has no one to tell."""
    await session.execute(_DROP_CREATED, {"ticket_id": ticket_id})


_ADD_NOTIFIED = text(
    "UPDATE outage_updates SET notified = notified + :count WHERE outage_id = :outage_id"
    " AND seq = :seq"
)


async def add_notified(session: AsyncSession, outage_id: uuid.UUID, seq: int, count: int) -> None:
    if count:
        await session.execute(_ADD_NOTIFIED, {"outage_id": outage_id, "seq": seq, "count": count})


_OWN_PAUSE = text(
    "UPDATE tickets SET sla_pauses = sla_pauses || jsonb_build_array(jsonb_build_array("
    "CAST(:now_iso AS text), null)) WHERE id = :ticket_id"
    " AND NOT jsonb_path_exists(sla_pauses, '$[*] ? (@[1] == null)')"
)


async def pause_parent(session: AsyncSession, ticket_id: uuid.UUID, now: datetime) -> None:
    """The outage's own ticket: nobody at the desk can fix a fibre cut faster."""
    await session.execute(_OWN_PAUSE, {"ticket_id": ticket_id, "now_iso": now.isoformat()})


_SET_LINK = text(
    """
WITH linked AS (
    UPDATE tickets SET outage_number = :number,
        sla_pauses = CASE
            WHEN jsonb_path_exists(sla_pauses, '$[*] ? (@[1] == null)') THEN sla_pauses
            ELSE sla_pauses || jsonb_build_array(jsonb_build_array(CAST(:now_iso AS text), null))
        END
    WHERE id = :ticket_id AND outage_number IS NULL
    RETURNING id
), event AS (
    INSERT INTO ticket_events (ticket_id, kind, actor, data, created_at)
    SELECT id, 'outage_linked', :actor, CAST(:data AS jsonb), :now FROM linked
)
SELECT count(*) FROM linked
"""
)


async def link_ticket(
    session: AsyncSession,
    ticket_id: uuid.UUID,
    number: int,
    *,
    actor: str,
    ticket_number: str,
    now: datetime,
) -> bool:
    """Link one new ticket; False when it was linked already (a replayed create)."""
    params = {
        "ticket_id": ticket_id,
        "number": number,
        "now": now,
        "now_iso": now.isoformat(),
        "actor": actor,
        "data": json.dumps({"outage": ticket_number}),
    }
    return bool((await session.execute(_SET_LINK, params)).scalar_one())
