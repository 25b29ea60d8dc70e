"""Which status a ticket may move to from where, and what each role may do to a ticket."""

from __future__ import annotations

from ticketing.auth.principal import Principal, Role
from ticketing.core.enums import Actor, EventKind, TicketStatus
from ticketing.core.errors import (
    CustomerNotFound,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    TenantNotFound,
)
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
