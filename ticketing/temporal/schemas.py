"""The public contract in one import: every model other languages send or receive by name.

The models live in their domains (ticketing/tickets, tenants, sla, core); this module adds the
workflow inputs and results and re-exports the rest, so workflows import one module.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, field_validator

from ticketing.core.enums import (
    DONE_STATUSES,
    Actor,
    Channel,
    EventKind,
    NoticeKind,
    Priority,
    TicketStatus,
    TicketType,
)
from ticketing.core.fields import (
    MAX_DESCRIPTION,
    MAX_SHORT_TEXT,
    Contract,
    CustomerId,
    Description,
    Email,
    IdempotencyKey,
    Identifier,
    Labels,
    Name,
    PriorityField,
    ShortText,
    Team,
    invalid_input_from,
    no_nul,
    normalize_customer_id,
    normalize_priority,
    parse,
)
from ticketing.sla.schemas import (
    BreachResult,
    EscalateInput,
    RecordBreachInput,
    SlaSnapshot,
    SnapshotInput,
)
from ticketing.tenants.schemas import RegisterTenantInput, UpsertCustomerInput
from ticketing.tickets.schemas import (
    CreateTicketRequest,
    OpenTicketInput,
    StatusChangeInput,
    TicketEventInfo,
    TicketInfo,
    TicketMessageInfo,
    TicketPage,
)

__all__ = [
    "DONE_STATUSES",
    "MAX_DESCRIPTION",
    "Actor",
    "BreachResult",
    "CancelInstallation",
    "Channel",
    "CompleteInstallation",
    "Contract",
    "CreateTicketRequest",
    "CustomerId",
    "Email",
    "EscalateInput",
    "EscalationInput",
    "EscalationResult",
    "EventKind",
    "Identifier",
    "InstallationInput",
    "InstallationPhase",
    "InstallationResult",
    "InstallationState",
    "NoticeKind",
    "OnboardingInput",
    "OpenTicketInput",
    "Priority",
    "RecordBreachInput",
    "RegisterTenantInput",
    "ScheduleVisit",
    "SendNotificationsInput",
    "ShortText",
    "SlaSnapshot",
    "SnapshotInput",
    "StatusChangeInput",
    "TicketEventInfo",
    "TicketInfo",
    "TicketMessageInfo",
    "TicketPage",
    "TicketStatus",
    "TicketType",
    "UpsertCustomerInput",
    "invalid_input_from",
    "normalize_customer_id",
    "normalize_priority",
    "parse",
]


# -- workflow contracts ----------------------------------------------------------------------


class OnboardingInput(Contract):
    tenant_id: Identifier
    customer_id: CustomerId
    customer_email: Email
    customer_name: Name | None = None
    priority: PriorityField = Priority.HIGH
    assigned_team: Team = "onboarding_team"
    notes: Description | None = None
    # Business key for exactly-one ticket; defaults to one onboarding per tenant and customer.
    idempotency_key: IdempotencyKey | None = None


class InstallationInput(Contract):
    tenant_id: Identifier
    customer_id: CustomerId
    service_address: Annotated[
        str, Field(min_length=1, max_length=MAX_SHORT_TEXT), AfterValidator(no_nul)
    ]
    priority: PriorityField = Priority.NORMAL
    assigned_team: Team = "field_ops"
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None
    affected_services: Labels = Field(default_factory=list)
    device_serial_numbers: Labels = Field(default_factory=list)
    notes: Description | None = None
    customer_email: Email | None = None
    customer_name: Name | None = None
    idempotency_key: IdempotencyKey | None = None

    @field_validator("window_end")
    @classmethod
    def _window_ordered(cls, end: datetime | None, info: Any) -> datetime | None:
        start = info.data.get("window_start")
        if end is not None and start is not None and end <= start:
            raise ValueError("must be after window_start")
        return end


class ScheduleVisit(Contract):
    at: AwareDatetime
    technician: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(no_nul)]


class CompleteInstallation(Contract):
    notes: Description | None = None


class CancelInstallation(Contract):
    reason: Annotated[str, Field(min_length=1, max_length=MAX_SHORT_TEXT), AfterValidator(no_nul)]


class InstallationPhase(StrEnum):
    CREATING_TICKET = "creating_ticket"
    AWAITING_SCHEDULE = "awaiting_schedule"
    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class InstallationState(BaseModel):
    ticket_number: str | None
    ticket_id: uuid.UUID | None
    phase: InstallationPhase
    visit: ScheduleVisit | None


class InstallationResult(BaseModel):
    ticket: TicketInfo
    phase: InstallationPhase
    visit: ScheduleVisit | None
    notes: str | None = None


class EscalationInput(Contract):
    ticket_id: uuid.UUID
    # Numbers widen past TKT-999999; far longer is no ticket of ours.
    ticket_number: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(no_nul)]
    # Checked by the watcher against its ticket; absent from watchers started before it existed.
    tenant_id: Identifier | None = None


class EscalationResult(BaseModel):
    ticket_number: str
    status: TicketStatus
    escalation_level: int
    breaches: list[str]
    warnings: list[str]


class SendNotificationsInput(Contract):
    notification_ids: list[int]
