"""The closed vocabularies of the domain, typed on ORM columns and in every contract."""

from __future__ import annotations

from enum import StrEnum


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


DONE_STATUSES = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})


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
    # The ticket's type changed (its SLA targets with it); `data` has from and to.
    TYPE_CHANGED = "type_changed"
    SLA_WARNING = "sla_warning"
    BREACHED = "breached"
    ESCALATED = "escalated"
    # Merged into another ticket (`data.into`) or another merged into this one (`data.from`).
    MERGED = "merged"
    # The customer was reminded that the ticket waits on them.
    REMINDED = "reminded"
    # Personal data redacted on request; `data` names the fields, the actor who.
    ERASED = "erased"
    # Linked to an outage (`data`: its number): the clocks stop until it ends.
    OUTAGE_LINKED = "outage_linked"


class Audience(StrEnum):
    CUSTOMER = "customer"
    DESK = "desk"


class NoticeKind(StrEnum):
    """What a notice reports; the first four values are the outbox kinds already stored."""

    TICKET_CREATED = "ticket_created"
    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"
    ESCALATED = "escalated"
    SUPPORT_REPLIED = "support_replied"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    TICKET_RESOLVED = "ticket_resolved"
    TICKET_REOPENED = "ticket_reopened"
    CUSTOMER_REPLIED = "customer_replied"
    TICKET_MERGED = "ticket_merged"
    PENDING_REMINDER = "pending_reminder"
    PENDING_CLOSED = "pending_closed"
    # One per affected customer per outage update; the row names the outage's parent ticket.
    OUTAGE_UPDATE = "outage_update"
    OUTAGE_RESOLVED = "outage_resolved"

    @property
    def audience(self) -> Audience:
        """Who reads it; internal notes have no kind at all, so they can never reach a customer."""
        return Audience.CUSTOMER if self in _CUSTOMER_KINDS else Audience.DESK


_CUSTOMER_KINDS = frozenset(
    {
        NoticeKind.TICKET_CREATED,
        NoticeKind.SUPPORT_REPLIED,
        NoticeKind.WAITING_ON_CUSTOMER,
        NoticeKind.TICKET_RESOLVED,
        NoticeKind.TICKET_REOPENED,
        NoticeKind.TICKET_MERGED,
        NoticeKind.PENDING_REMINDER,
        NoticeKind.PENDING_CLOSED,
        NoticeKind.OUTAGE_UPDATE,
        NoticeKind.OUTAGE_RESOLVED,
    }
)
# About an outage, not the customer's own ticket: no tracking link to the tenant's parent ticket.
OUTAGE_NOTICES = frozenset({NoticeKind.OUTAGE_UPDATE, NoticeKind.OUTAGE_RESOLVED})
