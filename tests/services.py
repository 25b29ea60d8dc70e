"""Test convenience: one principal's domain services on one session, each under its domain's
name (`services.tickets.create_ticket`, `services.tenants.register_tenant`, `services.sla.…`)."""

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
    """The ticket, tenant and SLA services acting for one principal (the platform unless told
    otherwise). Several principals share a test's one session, so each access binds the acting
    principal's RLS scope first."""

    def __init__(self, session: AsyncSession, principal: Principal | None = None) -> None:
        self.session = session
        self.principal = principal or Principal.platform()
        self._tenants = TenantService(session, self.principal)
        self._tickets = TicketService(session, self.principal)
        self._sla = SlaService(session, self.principal)

    @property
    def tickets(self) -> TicketService:
        bind_scope(self.session, self.principal)
        return self._tickets

    @property
    def tenants(self) -> TenantService:
        bind_scope(self.session, self.principal)
        return self._tenants

    @property
    def sla(self) -> SlaService:
        bind_scope(self.session, self.principal)
        return self._sla

    def as_(self, principal: Principal) -> Services:
        return Services(self.session, principal)

    def for_tenant(self, tenant_id: str) -> Services:
        return self.as_(Principal.tenant_agent(tenant_id, name="agent"))

    async def escalate(self, ticket: uuid.UUID | str, **kwargs: Any) -> tuple[TicketInfo, bool]:
        """As the escalate flow does: the SLA service moves it, the ticket is read back."""
        row, moved = await self.sla.escalate(ticket, **kwargs)
        return await self.tickets.get_ticket(row.id), moved
