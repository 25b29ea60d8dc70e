"""Which tickets a principal may see, decided once: the SQL base statement, the SLA path's row
check and the row-level-security value all read this one rule (the policies in the migrations
are its database-side copy, checked by tests/db/test_rls.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ticketing.auth.principal import Principal, Role

# Partners see a tenant's ticket once it is escalated past L1 (to the partner or beyond).
PARTNER_MIN_LEVEL = 2


@dataclass(frozen=True)
class TicketScope:
    """Every field that is set narrows what is visible; none set is everything."""

    ticket_id: uuid.UUID | None = None
    tenant_id: str | None = None
    partner_id: str | None = None
    customer_id: str | None = None
    min_escalation_level: int = 0

    @property
    def everything(self) -> bool:
        return self == EVERYTHING

    def admits(
        self,
        *,
        ticket_id: uuid.UUID,
        tenant_id: str,
        partner_id: str | None,
        escalation_level: int,
        customer_id: str | None = None,
    ) -> bool:
        """The rule over one ticket's values (for rows already read, e.g. the SLA path)."""
        return (
            self.ticket_id in (None, ticket_id)
            and self.tenant_id in (None, tenant_id)
            and (self.partner_id is None or self.partner_id == partner_id)
            and self.customer_id in (None, customer_id)
            and escalation_level >= self.min_escalation_level
        )


EVERYTHING = TicketScope()


def ticket_scope(principal: Principal) -> TicketScope:
    """The tickets `principal` may see at all."""
    if principal.sees_everything:
        return EVERYTHING
    if principal.role is Role.SYSTEM:
        return TicketScope(ticket_id=principal.ticket_id)
    if principal.role is Role.PARTNER_AGENT:
        return TicketScope(
            partner_id=principal.partner_id, min_escalation_level=PARTNER_MIN_LEVEL
        )
    if principal.role is Role.CUSTOMER:
        return TicketScope(tenant_id=principal.tenant_id, customer_id=principal.customer_id)
    return TicketScope(tenant_id=principal.tenant_id)
