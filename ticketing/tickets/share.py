"""Share text: a ticket reference an agent pastes to the customer, as plain text and Markdown."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from pydantic import BaseModel

from ticketing.tickets.public_lookup import STATUS_LABELS
from ticketing.tickets.schemas import TicketInfo

# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping them all
# leaves no emphasis, link, image, HTML tag, heading or table syntax in user text.
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_FOLDED = frozenset({"Cc", "Cf", "Zl", "Zp"})


class ShareText(BaseModel):
    text: str
    markdown: str


def one_line(value: str) -> str:
    """User text on one line: control, format and line-break characters become spaces."""
    folded = "".join(" " if unicodedata.category(c) in _FOLDED else c for c in value)
    return " ".join(folded.split())


def markdown_text(value: str) -> str:
    """User text that a Markdown renderer shows literally (no markup, no raw HTML)."""
    # Defuse bare autolinks (GFM's www./http:) that escaping alone may leave clickable.
    escaped = _MARKDOWN_PUNCTUATION.sub(r"\\\1", one_line(value))
    return re.sub(r"(?i)(www|https?|ftp)(\\[.:])", "\\1\u200b\\2", escaped)


def tracking_page_url(public_url: str, ticket: TicketInfo) -> str:
    """The tracking form with the number filled in: the customer still proves their address,
    so the text is safe to paste anywhere."""
    base = public_url.rstrip("/")
    return f"{base}/track?tenant={quote(ticket.tenant_id)}&number={quote(ticket.ticket_number)}"


def share_text(ticket: TicketInfo, public_url: str) -> ShareText:
    """Number, status, priority, category, title and tracking link, in text and Markdown."""
    status = STATUS_LABELS[ticket.status]
    priority = ticket.priority.value.capitalize()
    category = ticket.ticket_type.value.replace("_", " ").capitalize()
    link = tracking_page_url(public_url, ticket)
    title = one_line(ticket.title)
    text = (
        f"Ticket {ticket.ticket_number}: {title}\n"
        f"Status: {status} · Priority: {priority} · Category: {category}\n"
        f"Follow it here: {link}"
    )
    markdown = (
        f"**{ticket.ticket_number}**: {markdown_text(ticket.title)}  \n"
        f"Status: **{status}** · Priority: **{priority}** · Category: {category}  \n"
        f"[Follow your ticket](<{link}>)"
    )
    return ShareText(text=text, markdown=markdown)
