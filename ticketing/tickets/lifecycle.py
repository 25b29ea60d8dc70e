"""Which status a ticket may move to from where, and what each role may do to a ticket."""

from __future__ import annotations

from ticketing.auth.principal import Principal, Role
from ticketing.core.enums import Actor, TicketStatus
from ticketing.core.errors import Forbidden, InvalidInput, InvalidTransition

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
