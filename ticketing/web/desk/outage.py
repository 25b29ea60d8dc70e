"""What a ticket's page shows of outages: a linked ticket its outage (the marker and the latest
update), an outage's own parent ticket its tags, ETA, status and counts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal
from ticketing.core.enums import TicketType
from ticketing.core.errors import TicketingError
from ticketing.outages.schemas import OutageDetail
from ticketing.outages.service import OutageService
from ticketing.tickets.schemas import TicketInfo

# Linked tickets listed as links on the outage's page; the rest are counted.
MAX_LINKED_SHOWN = 50


@dataclass(frozen=True)
class OutageOnPage:
    detail: OutageDetail
    # True on the outage's own (parent) ticket, False on a ticket linked to it.
    is_parent: bool


async def outage_on_page(
    session: AsyncSession, principal: Principal, ticket: TicketInfo
) -> OutageOnPage | None:
    """The outage this ticket is or belongs to; None for most tickets, and for a reader the
    outages are not for (a partner's agent)."""
    if ticket.outage is not None:
        number, parent = ticket.outage, False
    elif ticket.ticket_type is TicketType.OUTAGE_REPORT:
        number, parent = ticket.ticket_number, True
    else:
        return None
    try:
        detail = await OutageService(session, principal).detail(number)
    except TicketingError:
        # Not an outage after all (an outage_report typed by hand), or not the reader's to see.
        return None
    return OutageOnPage(detail, parent)
