"""Ticket number format: TKT- plus at least six digits, one counter for every channel."""

from __future__ import annotations

import re

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
