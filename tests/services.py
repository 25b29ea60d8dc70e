"""Test convenience: the domain services of one principal on one session, behind one name."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal
from ticketing.db.rls import bind_scope
from ticketing.sla.service import SlaService
from ticketing.tenants.service import TenantService
from ticketing.tickets.schemas import TicketInfo
from ticketing.tickets.service import TicketService


class Services:
    """`services.create_ticket(...)` reaches whichever domain service has the method, all
    acting for the same principal (the platform unless told otherwise)."""

    def __init__(self, session: AsyncSession, principal: Principal | None = None) -> None:
        self.session = session
        self.principal = principal or Principal.platform()
        self.tenants = TenantService(session, self.principal)
        self.tickets = TicketService(session, self.principal)
        self.sla = SlaService(session, self.principal)

    def as_(self, principal: Principal) -> Services:
        return Services(self.session, principal)

    def for_tenant(self, tenant_id: str) -> Services:
        return self.as_(Principal.tenant_agent(tenant_id, name="agent"))

    async def escalate(self, ticket: uuid.UUID | str, **kwargs: Any) -> tuple[TicketInfo, bool]:
        """As the escalate flow does: the SLA service moves it, the ticket is read back."""
        bind_scope(self.session, self.principal)
        row, moved = await self.sla.escalate(ticket, **kwargs)
        return await self.tickets.get_ticket(row.id), moved

    def __getattr__(self, name: str) -> Any:
        # Several principals share the test's one session: the RLS scope is the acting one's.
        bind_scope(self.session, self.principal)
        for service in (self.tickets, self.tenants, self.sla):
            if hasattr(service, name):
                return getattr(service, name)
        raise AttributeError(name)
