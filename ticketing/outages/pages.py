"""One page of an outage's bulk work, in one transaction: link, resolve, queue notices, and
move the durable page position, so a retried page neither skips nor repeats a customer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal
from ticketing.core import outbox_keys
from ticketing.core.enums import NoticeKind, TicketStatus
from ticketing.core.errors import TicketNotFound
from ticketing.db.rls import bind_scope
from ticketing.outages import repository as repo
from ticketing.outages.linking import outage_actor
from ticketing.outages.models import Outage, OutageUpdate
from ticketing.outages.schemas import NotifyMode, OutageStatus, PageResult, UpdateKind
from ticketing.outages.service import outage_number
from ticketing.tickets.numbering import format_ticket_number
from ticketing.tickets.service import TicketService

# Customers per page: well inside one transaction, and 100 pages for 50,000 customers.
PAGE_SIZE = 500


@dataclass
class PageWork:
    result: PageResult
    # Tickets linked or resolved: their watchers re-read them after the commit.
    touched: list[uuid.UUID] = field(default_factory=list)
    parent: uuid.UUID | None = None


async def run_page(
    session: AsyncSession, tenant_id: str, ticket_number: str, now: datetime, limit: int = PAGE_SIZE
) -> PageWork:
    """Do the next page of the oldest update not yet sent to everyone; nothing when all are."""
    principal = Principal.integration(tenant_id, name=f"outage {ticket_number}")
    bind_scope(session, principal)
    outage = await repo.get_outage(
        session, tenant_id, outage_number(ticket_number), for_update=True
    )
    if outage is None:
        raise TicketNotFound(ticket_number)
    if outage.sent_seq >= outage.seq:
        done = PageResult(seq=outage.seq, finished=outage.status is OutageStatus.RESOLVED)
        return PageWork(done, parent=outage.ticket_id)
    seq = outage.sent_seq + 1
    update = await repo.update_by_seq(session, outage.ticket_id, seq)
    customers = await repo.page_customers(session, outage, outage.cursor, limit)
    result = PageResult(seq=seq, customers=len(customers))
    work = PageWork(result, parent=outage.ticket_id)
    with_ticket = {c.customer_id for c in customers if c.has_linked}
    if update.kind is UpdateKind.UPDATE:
        # Also when the resolution was committed before this update's pages all ran (a worker
        # lost mid-way): the resolution's pages, which come after, resolve what is linked here.
        # A ticket opened after the resolution is a new problem and stays out.
        linked = await repo.link_tickets(
            session,
            outage,
            [c.customer_id for c in customers if c.affected],
            actor=outage_actor(outage.number),
            ticket_number=ticket_number,
            now=now,
            opened_before=outage.resolved_at,
        )
        result.linked = len(linked)
        work.touched += [ticket_id for ticket_id, _ in linked]
        with_ticket |= {customer for _, customer in linked}
    if update.kind is UpdateKind.RESOLUTION:
        resolved = await _resolve_linked(session, principal, outage, update, customers, now)
        result.resolved = len(resolved)
        work.touched += resolved
    everyone = outage.notify is NotifyMode.AFFECTED
    recipients = [
        c
        for c in customers
        if c.email and (c.customer_id in with_ticket or (everyone and c.affected))
    ]
    result.notified = await repo.queue_outage_notices(
        session,
        ticket_id=outage.ticket_id,
        tenant_id=tenant_id,
        kind=(
            NoticeKind.OUTAGE_RESOLVED
            if update.kind is UpdateKind.RESOLUTION
            else NoticeKind.OUTAGE_UPDATE
        ).value,
        keys=[outbox_keys.outage_notice(outage.ticket_id, seq, c.customer_id) for c in recipients],
        emails=[c.email or "" for c in recipients],
        payload=_payload(outage, update),
    )
    await repo.add_notified(session, outage.ticket_id, seq, result.notified)
    if len(customers) < limit:
        outage.sent_seq, outage.cursor = seq, None
    else:
        outage.cursor = customers[-1].customer_id
    result.more = outage.sent_seq < outage.seq
    result.finished = not result.more and outage.status is OutageStatus.RESOLVED
    await session.flush()
    return work


def _payload(outage: Outage, update: OutageUpdate) -> dict[str, object]:
    payload: dict[str, object] = {
        "body": update.body,
        "outage": format_ticket_number(outage.number),
        "seq": update.seq,
    }
    if outage.eta is not None and update.kind is UpdateKind.UPDATE:
        payload["eta"] = outage.eta.isoformat(timespec="minutes")
    return payload


async def _resolve_linked(
    session: AsyncSession,
    principal: Principal,
    outage: Outage,
    update: OutageUpdate,
    customers: list[repo.PageCustomer],
    now: datetime,
) -> list[uuid.UUID]:
    """Resolve the page's linked tickets with the resolution's words; their customers hear it
    by the outage's own notice, which replaces the ordinary resolved notice."""
    ids = await repo.linked_unsolved(session, outage, [c.customer_id for c in customers])
    tickets = TicketService(session, principal)
    for ticket_id in ids:
        await tickets.add_message(ticket_id, body=update.body, now=now)
        await tickets.change_status(ticket_id, TicketStatus.RESOLVED, now=now)
    return ids
