"""Partners, tenants and customers: registration rules, inside the caller's transaction."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal, Role, require_principal
from ticketing.core.errors import (
    Forbidden,
    InvalidInput,
    PartnerNotFound,
    TenantNotFound,
)
from ticketing.core.fields import network_tag
from ticketing.db.rls import bind_scope
from ticketing.sla import BusinessCalendar, SlaPolicy, validate_timezone
from ticketing.sla.stored import policy_from_dict, policy_to_dict
from ticketing.tenants import repository as repo
from ticketing.tenants.models import Customer, Partner, Tenant


def parse_tags(tags: list[str]) -> list[str]:
    """Every tag checked; the first bad one is an InvalidInput naming `tags`."""
    if len(tags) > 100:
        raise InvalidInput("tags", len(tags), "at most 100 tags")
    for tag in tags:
        try:
            network_tag(tag)
        except ValueError as error:
            raise InvalidInput("tags", tag, str(error)) from None
    return tags


class TenantService:
    """Registration of partners, tenants and customers for one Principal."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = require_principal(principal, "TenantService")
        bind_scope(session, self.principal)

    def _visible_tenant(self, tenant_id: str) -> None:
        """Another tenant looks exactly like a missing one."""
        p = self.principal
        if not p.sees_everything and p.tenant_id != tenant_id:
            raise TenantNotFound(tenant_id)

    async def list_tenants(self) -> list[tuple[str, str]]:
        """(id, name) of the tenants the principal sees: all for the platform, else its own."""
        p = self.principal
        only = None if p.sees_everything else p.tenant_id
        tenants = await repo.list_tenants(self.session, only=only, after=None, limit=1000)
        return [(t.id, t.name) for t in tenants]

    async def customer_by_email(self, tenant_id: str, email: str) -> str | None:
        """The id of the tenant's customer with this address (the oldest id of several)."""
        self._visible_tenant(tenant_id)
        found = await repo.customer_ids_by_email(self.session, tenant_id, email.strip())
        return found[0] if found else None

    async def register_partner(
        self, partner_id: str, *, name: str, email: str | None = None
    ) -> None:
        """Create or update a partner (platform only)."""
        if self.principal.role is not Role.PLATFORM:
            raise Forbidden("register partners")
        existing = await repo.get_partner(self.session, partner_id)
        if existing is None:
            self.session.add(Partner(id=partner_id, name=name, email=email))
        else:
            existing.name, existing.email = name, email
        await self.session.flush()

    async def register_tenant(
        self,
        tenant_id: str,
        *,
        name: str | None = None,
        partner_id: str | None = None,
        timezone: str | None = None,
        support_email: str | None = None,
        sla_policy: SlaPolicy | None = None,
        calendar: BusinessCalendar | None = None,
        public_tags: list[str] | None = None,
    ) -> Tenant:
        """Create or update a tenant (idempotent on its id); a tenant admin edits only its own
        and cannot move it to another partner."""
        p = self.principal
        if not p.may_administer_tenants:
            raise Forbidden("register tenants")
        self._visible_tenant(tenant_id)
        if partner_id is not None and p.role is not Role.PLATFORM:
            raise Forbidden("change a tenant's partner")
        if partner_id is not None and await repo.get_partner(self.session, partner_id) is None:
            raise PartnerNotFound(partner_id)
        if timezone is not None:
            try:
                validate_timezone(timezone)
            except ValueError as exc:
                raise InvalidInput("timezone", timezone, str(exc)) from None
        tenant = await repo.get_tenant(self.session, tenant_id)
        if timezone is not None:
            # Only the zone changes: the business hours and holidays in force are kept, and
            # with a policy given in the same call, those are the new policy's.
            current = policy_from_dict(tenant.sla_policy).calendar if tenant else None
            if tenant is not None and tenant.calendar is not None:
                current = BusinessCalendar.from_dict(tenant.calendar)
            if sla_policy is not None:
                current = sla_policy.calendar
            calendar = replace(calendar or current or BusinessCalendar.always(), timezone=timezone)
        if tenant is None:
            if p.role is not Role.PLATFORM:
                raise TenantNotFound(tenant_id)
            tenant = Tenant(id=tenant_id, name=name or tenant_id)
            self.session.add(tenant)
        elif name:
            tenant.name = name
        if partner_id is not None:
            tenant.partner_id = partner_id
        if support_email is not None:
            tenant.support_email = support_email
        if sla_policy is not None:
            tenant.sla_policy = policy_to_dict(sla_policy)
        if calendar is not None:
            tenant.calendar = calendar.to_dict()
        if public_tags is not None:
            tenant.public_tags = sorted(set(parse_tags(public_tags)))
        await self.session.flush()
        return tenant

    async def upsert_customer(
        self,
        *,
        tenant_id: str,
        customer_id: str,
        email: str | None = None,
        name: str | None = None,
        plan: str | None = None,
        tags: list[str] | None = None,
    ) -> Customer:
        """Create the customer under `tenant_id` or update its contact details; `tags`
        replaces its network tags (None keeps them).

        Customer ids are unique per tenant: another tenant's customer with the same id is
        another customer.
        """
        if self.principal.is_customer or self.principal.role is Role.PARTNER_AGENT:
            raise Forbidden("register customers")
        self._visible_tenant(tenant_id)
        if await repo.get_tenant(self.session, tenant_id) is None:
            raise TenantNotFound(tenant_id)
        # Insert-or-nothing, then lock: two onboardings of one new customer never collide.
        await repo.insert_customer_if_absent(
            self.session, customer_id=customer_id, tenant_id=tenant_id, email=email, name=name
        )
        customer = await repo.lock_customer(self.session, tenant_id, customer_id)
        customer.email = email or customer.email
        customer.name = name or customer.name
        customer.plan = plan or customer.plan
        if tags is not None:
            customer.tags = sorted(set(parse_tags(tags)))
        await self.session.flush()
        return customer
