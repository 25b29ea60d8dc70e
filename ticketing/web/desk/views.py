"""What the desk's templates show: labels, choices, and a ticket's timeline in one list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ticketing.core.enums import EventKind, Priority, TicketStatus, TicketType
from ticketing.readmodels.ticket_detail import TicketDetail
from ticketing.teams.signin import DeskIdentity
from ticketing.tickets.attachments.schemas import AttachmentInfo
from ticketing.web.pages import PageKit

KIT = PageKit(
    "ticketing.web.desk",
    stylesheets=("/desk/static/base.css", "/desk/static/desk.css"),
    scripts=("/desk/static/desk.js",),
    connect=True,
)
STATUS_LABELS = {
    TicketStatus.OPEN: "Open",
    TicketStatus.IN_PROGRESS: "In progress",
    TicketStatus.PENDING: "Pending",
    TicketStatus.RESOLVED: "Resolved",
    TicketStatus.CLOSED: "Closed",
}
# The queue's default: what still needs the support side.
UNSOLVED = frozenset({TicketStatus.OPEN, TicketStatus.IN_PROGRESS, TicketStatus.PENDING})
COUNTED = (
    TicketStatus.OPEN,
    TicketStatus.IN_PROGRESS,
    TicketStatus.PENDING,
    TicketStatus.RESOLVED,
)
PRIORITY_LABELS = {p: p.value.capitalize() for p in Priority}
TYPE_LABELS = {t: t.value.replace("_", " ").capitalize() for t in TicketType}
EVENT_LABELS = {
    EventKind.CREATED: "Created",
    EventKind.STATUS_CHANGED: "Status changed",
    EventKind.ASSIGNED: "Assigned",
    EventKind.REPLIED: "Replied",
    EventKind.NOTE_ADDED: "Internal note added",
    EventKind.PAUSED: "SLA clock paused",
    EventKind.RESUMED: "SLA clock resumed",
    EventKind.PRIORITY_CHANGED: "Priority changed",
    EventKind.TYPE_CHANGED: "Type changed",
    EventKind.SLA_WARNING: "SLA warning",
    EventKind.BREACHED: "SLA breached",
    EventKind.ESCALATED: "Escalated",
    EventKind.ERASED: "Personal data erased",
    EventKind.OUTAGE_LINKED: "Linked to an outage",
}


# Each of these events has its message in the timeline already: shown once, as the message.
SHOWN_AS_MESSAGES = frozenset({EventKind.REPLIED, EventKind.NOTE_ADDED})


@dataclass(frozen=True)
class Entry:
    """One line of the timeline: a message (the description first) or an event."""

    at: datetime
    who: str
    text: str
    is_message: bool
    internal: bool = False
    detail: str = ""
    # The files that came with the message.
    files: tuple[AttachmentInfo, ...] = ()


def _event_detail(kind: EventKind, data: dict[str, Any]) -> str:
    if kind is EventKind.OUTAGE_LINKED and isinstance(outage := data.get("outage"), str):
        # The label says what it is; the detail is only the outage's number.
        return outage
    before, after = data.get("from"), data.get("to")
    if before is not None or after is not None:
        return f"{before or '–'} → {after or '–'}"
    return ", ".join(f"{k}: {v}" for k, v in sorted(data.items()) if isinstance(v, str | int))


def timeline(detail: TicketDetail) -> list[Entry]:
    """Messages and events, oldest first; at one instant a message before its event (so the
    description comes before `created`)."""
    entries: list[tuple[datetime, int, int, Entry]] = []
    for index, m in enumerate(detail.messages):
        who = m.author or m.author_actor.value.capitalize()
        files = tuple(m.attachments)
        entry = Entry(m.created_at, who, m.body, True, internal=m.is_internal, files=files)
        entries.append((m.created_at, 0, index, entry))
    for index, e in enumerate(detail.events):
        if e.kind in SHOWN_AS_MESSAGES:
            continue
        label = EVENT_LABELS.get(e.kind, e.kind.value)
        entry = Entry(
            e.created_at, e.actor or "System", label, False, detail=_event_detail(e.kind, e.data)
        )
        entries.append((e.created_at, 1, index, entry))
    return [entry for *_, entry in sorted(entries, key=lambda item: item[:3])]


def render(template: str, me: DeskIdentity | None, **context: Any) -> str:
    return KIT.render(
        template,
        me=me,
        status_labels=STATUS_LABELS,
        priority_labels=PRIORITY_LABELS,
        type_labels=TYPE_LABELS,
        **context,
    )
