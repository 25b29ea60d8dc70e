"""Read side of partners, tenants and customers for admins: listings scoped by the caller."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import TENANT_ROLES, Principal, Role, require_principal
from ticketing.core.errors import CustomerNotFound, Forbidden, TenantNotFound
from ticketing.db.rls import bind_scope
from ticketing.sla.service import tenant_policy
from ticketing.tenants import repository as repo
from ticketing.tenants.models import Customer, Partner, Tenant

# Rows per listing page: admins page with `after`.
PAGE = 200


class PartnerInfo(BaseModel):
    partner_id: str
    name: str
    email: str | None


class TenantInfo(BaseModel):
    tenant_id: str
    name: str
    partner_id: str | None
    support_email: str | None
    timezone: str
    # Which outage tags /status shows: exact tags, or prefixes ending in ':'.
    public_tags: list[str] = []


class CustomerRecord(BaseModel):
    customer_id: str
    tenant_id: str
    email: str | None
    name: str | None
    plan: str | None
    tags: list[str] = []


def partner_info(row: Partner) -> PartnerInfo:
    return PartnerInfo(partner_id=row.id, name=row.name, email=row.email)


def tenant_info(row: Tenant) -> TenantInfo:
    zone = tenant_policy(row.sla_policy, row.calendar).calendar.timezone
    return TenantInfo(
        tenant_id=row.id,
        name=row.name,
        partner_id=row.partner_id,
        support_email=row.support_email,
        timezone=zone,
        public_tags=list(row.public_tags or []),
    )


def customer_record(row: Customer) -> CustomerRecord:
    return CustomerRecord(
        customer_id=row.id,
        tenant_id=row.tenant_id,
        email=row.email,
        name=row.name,
        plan=row.plan,
        tags=list(row.tags or []),
    )


class TenantDirectory:
    """Who may read what: the platform everything, a tenant's keys their own tenant and its
    customers; partner agents and customers none of it."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = require_principal(principal, "TenantDirectory")
        bind_scope(session, self.principal)

    def _require_reader(self) -> None:
        p = self.principal
        if p.role is not Role.PLATFORM and p.role not in TENANT_ROLES:
            raise Forbidden("read tenants")

    async def partners(self) -> list[PartnerInfo]:
        """Every partner (platform only)."""
        if self.principal.role is not Role.PLATFORM:
            raise Forbidden("read partners")
        return [partner_info(row) for row in await repo.list_partners(self.session)]

    async def tenants(self, *, after: str | None = None, limit: int = PAGE) -> list[TenantInfo]:
        """The tenants the caller may see, by id."""
        self._require_reader()
        only = None if self.principal.role is Role.PLATFORM else self.principal.tenant_id
        rows = await repo.list_tenants(self.session, only=only, after=after, limit=limit)
        return [tenant_info(row) for row in rows]

    async def tenant(self, tenant_id: str) -> TenantInfo:
        """One tenant; another tenant reads exactly like a missing one."""
        self._require_reader()
        row = await repo.get_tenant(self.session, tenant_id)
        visible = self.principal.role is Role.PLATFORM or self.principal.tenant_id == tenant_id
        if row is None or not visible:
            raise TenantNotFound(tenant_id)
        return tenant_info(row)

    async def customers(
        self, tenant_id: str, *, after: str | None = None, limit: int = PAGE
    ) -> list[CustomerRecord]:
        """The tenant's customers by id."""
        await self.tenant(tenant_id)
        rows = await repo.list_customers(self.session, tenant_id, after=after, limit=limit)
        return [customer_record(row) for row in rows]

    async def customer(self, tenant_id: str, customer_id: str) -> CustomerRecord:
        await self.tenant(tenant_id)
        row = await repo.get_customer(self.session, tenant_id, customer_id)
        if row is None:
            raise CustomerNotFound(customer_id)
        return customer_record(row)
