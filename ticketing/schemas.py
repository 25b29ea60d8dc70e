"""Pydantic shapes of the public contract: requests, ticket views and workflow inputs."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from ticketing.errors import InvalidCustomerId, InvalidInput, MissingServiceAddress


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TicketType(StrEnum):
    GENERAL_INQUIRY = "general_inquiry"
    BILLING_ISSUE = "billing_issue"
    TECHNICAL_SUPPORT = "technical_support"
    INSTALLATION_REQUEST = "installation_request"
    OUTAGE_REPORT = "outage_report"
    SERVICE_UPGRADE = "service_upgrade"
    SERVICE_DOWNGRADE = "service_downgrade"
    CANCELLATION_REQUEST = "cancellation_request"
    EQUIPMENT_ISSUE = "equipment_issue"
    SPEED_ISSUE = "speed_issue"
    NETWORK_ISSUE = "network_issue"
    CONNECTIVITY_ISSUE = "connectivity_issue"


class TicketStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Actor(StrEnum):
    CUSTOMER = "customer"
    TENANT = "tenant"
    PARTNER = "partner"
    PLATFORM = "platform"


class Channel(StrEnum):
    WORKFLOW = "workflow"
    WEB = "web"
    EMAIL = "email"
    CHAT = "chat"
    API = "api"


class EventKind(StrEnum):
    CREATED = "created"
    STATUS_CHANGED = "status_changed"
    ASSIGNED = "assigned"
    REPLIED = "replied"
    NOTE_ADDED = "note_added"
    PAUSED = "paused"
    RESUMED = "resumed"
    PRIORITY_CHANGED = "priority_changed"
    SLA_WARNING = "sla_warning"
    BREACHED = "breached"
    ESCALATED = "escalated"


DONE_STATUSES = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})

MAX_TITLE = 200
MAX_DESCRIPTION = 65_536
MAX_SHORT_TEXT = 500
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail mid-transaction.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _email(value: str) -> str:
    # Lower-casing can lengthen a string ("İ" → "i̇"): check what will be stored.
    value = value.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("is not an email address")
    return value


def _identifier(value: str) -> str:
    if not _IDENTIFIER.match(value):
        raise ValueError("must be 1-64 letters, digits, '_', '.', ':' or '-'")
    return value


def normalize_customer_id(value: Any) -> str:
    """Canonical text of a customer id: an integer's digits or a UUID's lower-case form."""
    if isinstance(value, bool):
        raise ValueError("must be an integer or a UUID")
    if isinstance(value, int):
        if not 0 <= value < 10**30:
            raise ValueError("must be between 0 and 10**30")
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 30:
            return str(int(text))
        try:
            return str(uuid.UUID(text))
        except ValueError:
            pass
    raise ValueError("must be an integer, a numeric string or a UUID")


MAX_METADATA_BYTES = 16_384


def _metadata(value: dict[str, Any]) -> dict[str, Any]:
    """JSON PostgreSQL can store: no NaN/Infinity, no NUL, bounded size."""
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise ValueError("must be JSON without NaN or Infinity") from None
    if "\\u0000" in encoded:
        raise ValueError("must not contain NUL characters")
    if len(encoded.encode()) > MAX_METADATA_BYTES:
        raise ValueError(f"must be at most {MAX_METADATA_BYTES} bytes of JSON")
    return value


def normalize_priority(value: Any) -> Any:
    """Accept `medium` as `normal` and any case or padding; other values are left to the enum."""
    if isinstance(value, str) and value.strip().lower() == "medium":
        return Priority.NORMAL
    return value.strip().lower() if isinstance(value, str) else value


Text = Annotated[str, AfterValidator(_no_nul)]
ShortText = Annotated[str, Field(max_length=MAX_SHORT_TEXT), AfterValidator(_no_nul)]
Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE), AfterValidator(_no_nul)]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION), AfterValidator(_no_nul)]
Email = Annotated[str, AfterValidator(_email)]
Identifier = Annotated[str, AfterValidator(_identifier)]
CustomerId = Annotated[str, BeforeValidator(normalize_customer_id)]
PriorityField = Annotated[Priority, BeforeValidator(normalize_priority)]
Team = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_no_nul)]
Labels = Annotated[list[ShortText], Field(max_length=100)]
Name = Annotated[str, Field(max_length=200), AfterValidator(_no_nul)]
IdempotencyKey = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_nul)]
Metadata = Annotated[dict[str, Any], AfterValidator(_metadata)]


class Contract(BaseModel):
    """Strict about unknown fields so a typo in another language's caller fails loudly."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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


class TicketMessageInfo(BaseModel):
    author_actor: Actor
    author: str | None
    body: str
    is_internal: bool
    created_at: datetime


class TicketEventInfo(BaseModel):
    kind: EventKind
    actor: str | None
    data: dict[str, Any]
    created_at: datetime


class SlaSnapshot(BaseModel):
    """What the escalation watcher needs to decide when to wake next."""

    ticket_id: uuid.UUID
    ticket_number: str
    tenant_id: str
    status: TicketStatus
    phase: str
    paused: bool
    # Optional so snapshots recorded before it existed still decode during replay.
    priority: Priority | None = None
    first_response_met: bool
    first_response_due: datetime | None
    first_response_warning_at: datetime | None
    sla_due_date: datetime | None
    resolution_warning_at: datetime | None
    resolution_window_start: datetime
    breached: list[str]
    warned: list[str]
    escalation_level: int
    next_kind: str | None
    next_at: datetime | None


class TicketPage(BaseModel):
    items: list[TicketInfo]
    next_cursor: str | None


def parse(model: type[M], data: Any) -> M:
    """Validate `data` as `model`, turning the first problem into a typed error naming its field."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_input_from(exc) from None


def invalid_input_from(exc: ValidationError) -> InvalidInput:
    first = exc.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or exc.title
    value = first.get("input")
    reason = first["msg"].removeprefix("Value error, ")
    if field == "customer_id":
        return InvalidCustomerId(field, value, reason)
    return InvalidInput(field, value, reason)


M = TypeVar("M", bound=BaseModel)


# -- workflow and activity contracts -------------------------------------------------------


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
        str, Field(min_length=1, max_length=MAX_SHORT_TEXT), AfterValidator(_no_nul)
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
    technician: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_nul)]


class CompleteInstallation(Contract):
    notes: Description | None = None


class CancelInstallation(Contract):
    reason: Annotated[str, Field(min_length=1, max_length=MAX_SHORT_TEXT), AfterValidator(_no_nul)]


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
    ticket_number: str


class EscalationResult(BaseModel):
    ticket_number: str
    status: TicketStatus
    escalation_level: int
    breaches: list[str]
    warnings: list[str]


class UpsertCustomerInput(Contract):
    tenant_id: Identifier
    customer_id: CustomerId
    email: Email | None = None
    name: Name | None = None


class OpenTicketInput(Contract):
    """Customer upsert and ticket creation in one transaction, for our own workflows."""

    customer: UpsertCustomerInput
    request: CreateTicketRequest


class RegisterTenantInput(Contract):
    tenant_id: Identifier
    name: ShortText | None = None
    partner_id: Identifier | None = None
    timezone: ShortText | None = None
    support_email: Email | None = None


class SnapshotInput(Contract):
    ticket_id: uuid.UUID
    now: AwareDatetime


class RecordBreachInput(Contract):
    ticket_id: uuid.UUID
    kind: str
    now: AwareDatetime


class EscalateInput(Contract):
    ticket_id: uuid.UUID
    from_level: int
    now: AwareDatetime


class BreachResult(BaseModel):
    recorded: bool
    escalated: bool
    notification_ids: list[int]
    snapshot: SlaSnapshot


class StatusChangeInput(Contract):
    ticket_id: uuid.UUID
    status: TicketStatus
    now: AwareDatetime
    actor: str | None = None
    note: str | None = None
    # A public note is a reply to the customer (and meets first response); else internal.
    note_is_public: bool = False


class SendNotificationsInput(Contract):
    notification_ids: list[int]
