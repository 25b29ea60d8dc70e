"""The outage contract: declare, update, resolve inputs and the views the doors render."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from ticketing.core.fields import Contract, Description, IdempotencyKey, Tag, Title
from ticketing.tickets.schemas import TicketInfo


class OutageStatus(StrEnum):
    ACTIVE = "active"
    RESOLVED = "resolved"


class NotifyMode(StrEnum):
    """Who hears each update: every affected customer, or those with a linked ticket."""

    AFFECTED = "affected"
    LINKED = "linked"


class UpdateKind(StrEnum):
    UPDATE = "update"
    RESOLUTION = "resolution"


Body = Annotated[str, Field(min_length=1, max_length=20_000)]


class DeclareOutage(Contract):
    title: Title
    description: Description = ""
    tags: Annotated[list[Tag], Field(min_length=1, max_length=100)]
    eta: datetime | None = None
    notify: NotifyMode = NotifyMode.AFFECTED
    # Declaring twice with one key returns the first outage (the Alertmanager webhook's retries).
    idempotency_key: IdempotencyKey | None = None


class PostUpdate(Contract):
    body: Body


def default_update_key(ticket_number: str, body: str) -> str:
    """The CLI's key when none is given: rerunning the same command sends nothing twice."""
    return "cli:" + hashlib.sha256(f"{ticket_number}\n{body}".encode()).hexdigest()[:40]


class OutageDeclared(TicketInfo):
    """The parent ticket and how many customers the outage affects now."""

    affected: int


class OutageSummary(BaseModel):
    ticket_number: str
    title: str
    status: OutageStatus
    tags: list[str]
    eta: datetime | None
    notify: NotifyMode
    affected: int
    linked: int
    notified: int
    latest_update: str | None = None
    created_at: datetime
    resolved_at: datetime | None = None


class OutageDetail(OutageSummary):
    """One outage with its linked tickets' numbers and its updates (oldest first)."""

    linked_tickets: list[str] = Field(default_factory=list)
    updates: list[OutageUpdateInfo] = Field(default_factory=list)


class OutagePage(BaseModel):
    items: list[OutageSummary]
    next_cursor: str | None = None


class OutageUpdateInfo(BaseModel):
    ticket_number: str
    seq: int
    kind: UpdateKind
    body: str
    created_at: datetime


class OutageRef(BaseModel):
    """Which outage a run works on (the workflow's input and the page activity's)."""

    tenant_id: str
    ticket_number: str


class PageResult(BaseModel):
    """What one page did: customers mailed, tickets linked or resolved; whether more is due."""

    seq: int = 0
    customers: int = 0
    notified: int = 0
    linked: int = 0
    resolved: int = 0
    more: bool = False
    finished: bool = False


OutageDetail.model_rebuild()
