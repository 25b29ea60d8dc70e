"""Ticket requests and views: the shapes every channel creates and reads tickets with."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

from ticketing.core.enums import Actor, Channel, EventKind, Priority, TicketStatus, TicketType
from ticketing.core.errors import MissingServiceAddress
from ticketing.core.fields import (
    Contract,
    CustomerId,
    Description,
    Email,
    IdempotencyKey,
    Identifier,
    Labels,
    Metadata,
    PriorityField,
    ShortText,
    Team,
    Title,
)
from ticketing.tenants.schemas import UpsertCustomerInput
from ticketing.tickets.attachments.schemas import AttachmentInfo


class CreateTicketRequest(Contract):
    title: Title
    description: Description = ""
    customer_id: CustomerId
    priority: PriorityField = Priority.NORMAL
    assigned_team: Team | None = None
    tenant_id: Identifier | None = None
    ticket_type: TicketType = TicketType.GENERAL_INQUIRY
    service_address: ShortText | None = None
    affected_services: Labels = Field(default_factory=list)
    device_serial_numbers: Labels = Field(default_factory=list)
    channel: Channel = Channel.WORKFLOW
    requester_email: Email | None = None
    idempotency_key: IdempotencyKey | None = None
    metadata: Metadata = Field(default_factory=dict)

    def check_rules(self) -> None:
        """Rules across fields, raised as their own typed errors."""
        if self.ticket_type is TicketType.INSTALLATION_REQUEST and not self.service_address:
            raise MissingServiceAddress(
                "service_address", self.service_address, "is required for installation_request"
            )


class TicketInfo(BaseModel):
    ticket_id: uuid.UUID
    ticket_number: str
    title: str
    description: str
    customer_id: str
    tenant_id: str
    origin_type: Actor
    target_type: Actor
    priority: Priority
    ticket_type: TicketType
    status: TicketStatus
    assigned_team: str | None
    service_address: str | None
    affected_services: list[str]
    device_serial_numbers: list[str]
    channel: Channel
    first_response_due: datetime | None
    sla_due_date: datetime | None
    sla_breached: bool
    escalation_level: int
    context: dict[str, Any]
    created_at: datetime
    assigned_to: str | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    # Who wrote in (a mail's From), when not the customer's registered address.
    requester_email: str | None = None
    # The number of the outage the ticket is linked to (`TKT-…`), or null.
    outage: str | None = None


class TicketMessageInfo(BaseModel):
    author_actor: Actor
    author: str | None
    body: str
    is_internal: bool
    created_at: datetime
    # The message's id, to which its attachments are tied.
    id: int | None = None
    attachments: list[AttachmentInfo] = Field(default_factory=list)


class TicketEventInfo(BaseModel):
    kind: EventKind
    actor: str | None
    data: dict[str, Any]
    created_at: datetime


class TicketPage(BaseModel):
    items: list[TicketInfo]
    next_cursor: str | None


class OpenTicketInput(Contract):
    """Customer upsert and ticket creation in one transaction, for our own workflows."""

    customer: UpsertCustomerInput
    request: CreateTicketRequest


class StatusChangeInput(Contract):
    ticket_id: uuid.UUID
    status: TicketStatus
    now: AwareDatetime
    actor: str | None = None
    note: str | None = None
    # A public note is a reply to the customer (and meets first response); else internal.
    note_is_public: bool = False


class Merged(BaseModel):
    """A merge's outcome: the duplicate (closed) and the ticket it continues as."""

    ticket: TicketInfo
    into: TicketInfo
    merged_now: bool = Field(
        description="False when the ticket was already merged into `into`: nothing was done."
    )
