"""Who may route a ticket to whom, and where an escalation goes next."""

from __future__ import annotations

from ticketing.core.enums import Actor
from ticketing.core.errors import EscalationLimitReached, RouteNotAllowed

ALLOWED_ROUTES: frozenset[tuple[Actor, Actor]] = frozenset(
    {
        (Actor.CUSTOMER, Actor.TENANT),
        (Actor.TENANT, Actor.PARTNER),
        (Actor.TENANT, Actor.PLATFORM),
        (Actor.PARTNER, Actor.TENANT),
        (Actor.PARTNER, Actor.PLATFORM),
        (Actor.PLATFORM, Actor.TENANT),
        (Actor.PLATFORM, Actor.PARTNER),
    }
)

MAX_ESCALATION_LEVEL = 3


def check_route(origin: Actor, target: Actor) -> None:
    if (origin, target) not in ALLOWED_ROUTES:
        raise RouteNotAllowed(origin.value, target.value)


def escalation_route(level: int, *, tenant_has_partner: bool) -> tuple[Actor, Actor]:
    """Route for a ticket moving from `level` to `level + 1`.

    L1 sits with the tenant; L2 goes to the tenant's partner when it has one, else the platform;
    L3 is always the platform.
    """
    if level >= MAX_ESCALATION_LEVEL:
        raise EscalationLimitReached(level)
    if level == 1:
        route = (Actor.TENANT, Actor.PARTNER if tenant_has_partner else Actor.PLATFORM)
    elif tenant_has_partner:
        route = (Actor.PARTNER, Actor.PLATFORM)
    else:
        # Already with the platform at L2: L3 is the platform's senior tier, same route.
        route = (Actor.TENANT, Actor.PLATFORM)
    check_route(*route)
    return route
