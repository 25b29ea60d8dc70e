"""Ticket number format: TKT- plus at least six digits, one counter for every channel."""

from __future__ import annotations

import re
import uuid

from ticketing.core.errors import InvalidInput, TicketNotFound

PREFIX = "TKT-"
_WIDTH = 6
_PATTERN = re.compile(r"^TKT-(\d{6,})$")


def format_ticket_number(value: int) -> str:
    """Render a counter value; widens past TKT-999999 instead of truncating (lpad would)."""
    if value < 1:
        raise ValueError(f"ticket counter value must be positive, got {value}")
    return f"{PREFIX}{value:0{_WIDTH}d}"


def parse_ticket_number(text: str) -> int | None:
    """Return the counter value of a well-formed ticket number, else None."""
    match = _PATTERN.match(text.strip().upper())
    return int(match.group(1)) if match else None


# Past any counter a bigint can hold: such a number cannot exist.
MAX_TICKET_NUMBER = 2**63 - 1


def ticket_ref(ticket: uuid.UUID | str) -> uuid.UUID | int:
    """A ticket named by UUID or number, as the key to look it up by."""
    if isinstance(ticket, uuid.UUID):
        return ticket
    number = parse_ticket_number(ticket)
    if number is not None:
        if number > MAX_TICKET_NUMBER:
            raise TicketNotFound(ticket)
        return number
    try:
        return uuid.UUID(ticket)
    except ValueError:
        raise InvalidInput(
            "ticket", ticket, "is neither a ticket number (TKT-000123) nor a UUID"
        ) from None
