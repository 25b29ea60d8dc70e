"""Request and response bodies of the HTTP API, built from the domain's field types."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from ticketing.core.enums import Channel, Priority, TicketStatus, TicketType
from ticketing.core.fields import (
    MAX_DESCRIPTION,
    Contract,
    CustomerId,
    Description,
    Email,
    Labels,
    Metadata,
    Name,
    PriorityField,
    ShortText,
    Team,
    Title,
    no_nul,
)
from ticketing.tickets.schemas import (
    CreateTicketRequest,
)

MessageText = Annotated[
    str, Field(min_length=1, max_length=MAX_DESCRIPTION), AfterValidator(no_nul)
]
Agent = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(no_nul)]


class NewTicket(Contract):
    """`CreateTicketRequest` without `tenant_id` (the key's) or `idempotency_key` (the
    `Idempotency-Key` header): a body naming either is refused."""

    title: Title
    description: Description = ""
    customer_id: CustomerId
    priority: PriorityField = Priority.NORMAL
    assigned_team: Team | None = None
    ticket_type: TicketType = TicketType.GENERAL_INQUIRY
    service_address: ShortText | None = None
    affected_services: Labels = Field(default_factory=list)
    device_serial_numbers: Labels = Field(default_factory=list)
    channel: Literal["api", "web"] = "api"
    requester_email: Email | None = None
    metadata: Metadata = Field(default_factory=dict)

    def to_request(self, idempotency_key: str | None) -> CreateTicketRequest:
        fields = self.model_dump(exclude={"channel"})
        return CreateTicketRequest(
            **fields, channel=Channel(self.channel), idempotency_key=idempotency_key
        )


class NewMessage(Contract):
    """A public reply (`public`, the default) or an internal note."""

    body: MessageText
    public: bool = True


class TicketChange(Contract):
    """Any of status, priority, type and assignment; `assigned_to: null` unassigns."""

    status: TicketStatus | None = None
    priority: PriorityField | None = None
    ticket_type: TicketType | None = Field(
        default=None, description="The ticket's type; its SLA targets follow it."
    )
    assigned_to: Agent | None = None
    assigned_team: Team | None = None

    @model_validator(mode="after")
    def _something(self) -> TicketChange:
        if not self.model_fields_set:
            raise ValueError(
                "name at least one of status, priority, ticket_type, assigned_to, assigned_team"
            )
        return self


class MergeRequest(Contract):
    """The ticket a duplicate continues as."""

    into: str = Field(min_length=1, max_length=64, description="TKT-000123 (or the ticket's UUID).")


class NewCustomer(Contract):
    customer_id: CustomerId
    email: Email | None = None
    name: Name | None = None


class CustomerInfo(BaseModel):
    customer_id: str
    tenant_id: str
    email: str | None
    name: str | None
