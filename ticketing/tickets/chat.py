"""Chat: the ticket numbers a customer typed, and status cards of the customer's own tickets."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal
from ticketing.core.enums import Priority, TicketStatus, TicketType
from ticketing.core.errors import TicketNotFound
from ticketing.tickets.numbering import MAX_TICKET_NUMBER, format_ticket_number
from ticketing.tickets.public_lookup import STATUS_LABELS, TrackedTicket, customer_view
from ticketing.tickets.schemas import TicketInfo
from ticketing.tickets.service import TicketService

MAX_LOOKUPS = 10
MAX_TITLE_CHARS = 200
_NUMBER = re.compile(r"\bTKT-(\d{6,})", re.IGNORECASE)
# More digits than a bigint counter has can never name a ticket (and stay cheap to parse).
_MAX_DIGITS = len(str(MAX_TICKET_NUMBER))

TrackingUrl = Callable[[uuid.UUID], str]


class ChatCard(BaseModel):
    """What a chat widget shows a customer about one of their tickets: never internal notes,
    agents or assignees."""

    ticket_number: str
    title: str
    status: TicketStatus
    status_label: str
    priority: Priority
    ticket_type: TicketType
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    tracking_url: str | None


class ChatCards(BaseModel):
    cards: list[ChatCard]


def ticket_numbers(text: str, limit: int = MAX_LOOKUPS) -> list[str]:
    """Distinct ticket numbers in `text` (any case, leading zeros alike), in order of
    appearance, at most `limit`, as canonical `TKT-000123`."""
    found: list[str] = []
    for match in _NUMBER.finditer(text):
        digits = match.group(1).lstrip("0")
        if not digits or len(digits) > _MAX_DIGITS or int(digits) > MAX_TICKET_NUMBER:
            continue
        number = format_ticket_number(int(digits))
        if number not in found:
            found.append(number)
            if len(found) == limit:
                break
    return found


def first_line_title(message: str) -> str:
    """A chat ticket's default title: the message's first non-blank line, at most 200."""
    for line in message.splitlines():
        if line.strip():
            return " ".join(line.split())[:MAX_TITLE_CHARS]
    return "Chat message"


async def card(
    session: AsyncSession, principal: Principal, ticket: TicketInfo, url: TrackingUrl | None
) -> ChatCard:
    """The card of a ticket already read as its customer; updated_at is the last thing the
    customer can see happen (as on the tracking page), not internal activity."""
    view = await customer_view(session, TrackedTicket(ticket.ticket_id, principal))
    shown = view.ticket
    return ChatCard(
        ticket_number=shown.ticket_number,
        title=shown.title,
        status=shown.status,
        status_label=STATUS_LABELS[shown.status],
        priority=shown.priority,
        ticket_type=shown.ticket_type,
        created_at=shown.created_at,
        updated_at=view.updated_at,
        resolved_at=shown.resolved_at,
        tracking_url=url(shown.ticket_id) if url is not None else None,
    )


async def lookup_cards(
    session: AsyncSession, principal: Principal, text: str, url: TrackingUrl | None
) -> ChatCards:
    """Cards for the numbers in `text` that `principal` (a customer) may see: the scoped read
    finds nothing for another customer's, another tenant's or an unknown number alike."""
    service = TicketService(session, principal)
    cards: list[ChatCard] = []
    for number in ticket_numbers(text):
        try:
            ticket = await service.get_ticket(number)
        except TicketNotFound:
            continue
        cards.append(await card(session, principal, ticket, url))
    return ChatCards(cards=cards)
