"""Which status a ticket may move to from where, and what each role may do to a ticket."""

from __future__ import annotations

from datetime import datetime

from ticketing.auth.principal import Principal, Role
from ticketing.core.enums import DONE_STATUSES, Actor, EventKind, TicketStatus
from ticketing.core.errors import (
    CustomerNotFound,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    TenantNotFound,
)
from ticketing.tickets.models import Ticket
from ticketing.tickets.schemas import CreateTicketRequest

TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.OPEN: frozenset(
        {TicketStatus.IN_PROGRESS, TicketStatus.PENDING, TicketStatus.RESOLVED, TicketStatus.CLOSED}
    ),
    TicketStatus.IN_PROGRESS: frozenset(
        {TicketStatus.PENDING, TicketStatus.RESOLVED, TicketStatus.CLOSED, TicketStatus.OPEN}
    ),
    TicketStatus.PENDING: frozenset(
        {TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED, TicketStatus.CLOSED, TicketStatus.OPEN}
    ),
    TicketStatus.RESOLVED: frozenset({TicketStatus.CLOSED, TicketStatus.OPEN}),
    TicketStatus.CLOSED: frozenset({TicketStatus.OPEN}),
}


# What a customer's timeline shows besides public messages: never notes, SLA or routing.
CUSTOMER_EVENTS = frozenset(
    {
        EventKind.CREATED,
        EventKind.STATUS_CHANGED,
        EventKind.REPLIED,
        EventKind.PAUSED,
        EventKind.RESUMED,
    }
)


def check_transition(current: TicketStatus, requested: TicketStatus) -> None:
    if requested not in TRANSITIONS[current]:
        raise InvalidTransition(current.value, requested.value)


def status_after_customer_reply(current: TicketStatus, *, responded: bool) -> TicketStatus | None:
    """Where a customer's public reply moves the ticket: a wait on the customer ends (back to
    in progress once the support side has answered, else open); a resolved ticket reopens."""
    if current is TicketStatus.PENDING:
        return TicketStatus.IN_PROGRESS if responded else TicketStatus.OPEN
    if current is TicketStatus.RESOLVED:
        return TicketStatus.OPEN
    return None


def settle_dates(
    row: Ticket, current: TicketStatus, requested: TicketStatus, now: datetime
) -> None:
    """Resolution and close dates of a transition; a reopen starts a fresh resolution window;
    a wait on the customer remembers when it began (pending reminders count from there)."""
    if requested is TicketStatus.PENDING:
        row.pending_since = now
    elif current is TicketStatus.PENDING:
        row.pending_since = None
    if requested is TicketStatus.RESOLVED:
        row.resolved_at = now
        row.resolution_time_minutes = int((now - row.created_at).total_seconds() // 60)
    elif requested is TicketStatus.CLOSED:
        row.closed_at = now
        row.resolved_at = row.resolved_at or now
        row.resolution_time_minutes = int((row.resolved_at - row.created_at).total_seconds() // 60)
    elif requested is TicketStatus.OPEN and current in DONE_STATUSES:
        # At the escalation level it had reached.
        row.resolved_at = row.closed_at = None
        row.resolution_time_minutes = None
        row.resolution_window_start = now


def status_change_reason(
    principal: Principal, current: TicketStatus, requested: TicketStatus
) -> str | None:
    """Status belongs to the support side; the customer may only confirm a resolution, which
    closes the ticket (the reason the timeline keeps)."""
    if principal.role is not Role.CUSTOMER:
        return None
    if current is TicketStatus.RESOLVED and requested is TicketStatus.CLOSED:
        return "customer_confirmed"
    raise Forbidden("change a ticket's status")


def repeats_confirmation(
    principal: Principal, current: TicketStatus, requested: TicketStatus
) -> bool:
    """A customer confirming a ticket already closed (a second click, a retried post): there
    is nothing left to do, which is not a refusal."""
    return (
        principal.role is Role.CUSTOMER
        and current is TicketStatus.CLOSED
        and requested is TicketStatus.CLOSED
    )


def require_support_side(principal: Principal, action: str) -> None:
    """Status, assignment and priority belong to the support side, never to a customer."""
    if principal.role is Role.CUSTOMER:
        raise Forbidden(action)


def message_side(principal: Principal, requested: Actor | str | None) -> Actor:
    """Who a message speaks for. The platform (the operator's CLI) and the system (a workflow
    acting on one ticket) may speak for any side; every other principal speaks for its own
    and cannot claim another."""
    if requested is not None:
        try:
            requested = Actor(requested)
        except ValueError:
            raise InvalidInput(
                "author_actor", requested, "must be customer, tenant, partner or platform"
            ) from None
    if principal.role in (Role.PLATFORM, Role.SYSTEM):
        return requested or Actor.PLATFORM
    own = principal.acting_side
    if requested is not None and requested is not own:
        raise Forbidden(f"write as {requested.value}")
    return own


def create_scope(p: Principal, request: CreateTicketRequest) -> tuple[str | None, str]:
    """The tenant and customer a create may name: the principal's own, or (platform)
    any; a scoped principal naming another tenant or customer gets "not found"."""
    if p.role in (Role.PARTNER_AGENT, Role.SYSTEM):
        raise Forbidden("create tickets")
    if p.role is Role.PLATFORM:
        return request.tenant_id, request.customer_id
    if request.tenant_id is not None and request.tenant_id != p.tenant_id:
        raise TenantNotFound(request.tenant_id)
    if p.role is Role.CUSTOMER and request.customer_id != p.customer_id:
        raise CustomerNotFound(request.customer_id)
    return p.tenant_id, request.customer_id
