"""What a ticket's page shows of outages: a linked ticket its outage (the marker and the latest
update), an outage's own parent ticket its tags, ETA, status and counts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal
from ticketing.core.enums import TicketType
from ticketing.core.errors import TicketingError
from ticketing.outages.public import PublicOutage, linked_outage
from ticketing.outages.schemas import OutageDetail
from ticketing.outages.service import OutageService
from ticketing.tickets.schemas import TicketInfo

# Linked tickets listed as links on the outage's page; the rest are counted.
MAX_LINKED_SHOWN = 50


@dataclass(frozen=True)
class LinkedOutage:
    """On a linked ticket: which outage, and what its customers are told (no counts: a
    ticket's page needs none, and the outage's own page is one click away)."""

    number: str
    outage: PublicOutage


async def outage_on_page(
    session: AsyncSession, principal: Principal, ticket: TicketInfo
) -> LinkedOutage | OutageDetail | None:
    """The outage this ticket belongs to (LinkedOutage) or is (its OutageDetail); None for
    most tickets, and for an outage's ticket a reader may not manage (a partner's agent)."""
    if ticket.outage is not None:
        # The ticket was read under the caller's scope already; its outage is its tenant's.
        found = await linked_outage(session, ticket.tenant_id, ticket.outage)
        return None if found is None else LinkedOutage(ticket.outage, found)
    if ticket.ticket_type is not TicketType.OUTAGE_REPORT:
        return None
    try:
        return await OutageService(session, principal).detail(ticket.ticket_number)
    except TicketingError:
        # Not an outage after all (an outage_report typed by hand), or not the reader's.
        return None
