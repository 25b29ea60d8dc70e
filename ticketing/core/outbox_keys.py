"""The outbox's dedupe keys, spelled once: a notice with a key already queued is not queued
again, so every producer of one kind of notice must build its key here."""

from __future__ import annotations

import uuid
from datetime import datetime

from ticketing.core.enums import NoticeKind


def ticket_created(ticket_id: uuid.UUID) -> str:
    """One created notice per ticket, whatever retries its create."""
    return f"{NoticeKind.TICKET_CREATED}:{ticket_id}"


def ticket_notice(kind: NoticeKind, ticket_id: uuid.UUID, event: str) -> str:
    """One notice per (kind, ticket, the message or event that caused it, audience)."""
    return f"{kind}:{ticket_id}:{event}:{kind.audience}"


def threshold(kind: object, ticket_id: uuid.UUID, due_at: datetime) -> str:
    """One SLA warning or breach notice per threshold kind (as it prints: `first_response`,
    `resolution_warning_75`, …) and due time of a ticket."""
    return f"{kind}:{ticket_id}:{due_at.isoformat()}"


def keep_in_loop(kind: object, ticket_id: uuid.UUID, window_start: datetime) -> str:
    """One keep-in-loop warning or breach notice per kind and window (from the last public
    support message): a pause moving its due time does not make it a second notice."""
    return f"{kind}:{ticket_id}:from:{window_start.isoformat()}"


def escalated(ticket_id: uuid.UUID, to_level: int, at: datetime) -> str:
    """One escalation notice per level a ticket reaches, at the moment it reached it."""
    return f"escalated:{ticket_id}:{to_level}:{at.isoformat()}"


def ticket_merged(ticket_id: uuid.UUID) -> str:
    """One merged notice per duplicate: a ticket is merged once."""
    return f"{NoticeKind.TICKET_MERGED}:{ticket_id}"


def pending_notice(kind: NoticeKind, ticket_id: uuid.UUID, pending_since: datetime) -> str:
    """One reminder and one close notice per wait on the customer (from `pending_since`)."""
    return f"{kind}:{ticket_id}:{pending_since.isoformat()}"
def outage_notice(outage_id: uuid.UUID, seq: int, customer_id: str) -> str:
    """One notice per customer per outage update (or resolution), whichever path queued it:
    the update's page, or the answer to a ticket the customer opened meanwhile."""
    return f"outage:{outage_id}:{seq}:{customer_id}"
