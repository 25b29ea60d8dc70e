"""Tenant commands with their after-commit duties: a new zone or policy moves open tickets' due
dates, so their watchers are woken once the change is committed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal
from ticketing.sla import SlaPolicy
from ticketing.sla import repository as sla_repo
from ticketing.sla.policy_service import SlaPolicyService
from ticketing.tenants.directory import TenantInfo, tenant_info
from ticketing.tenants.models import Customer
from ticketing.tenants.schemas import RegisterTenantInput, UpsertCustomerInput
from ticketing.tenants.service import TenantService
from ticketing.tickets.duties import AfterCommit, Flow


@dataclass(frozen=True)
class TenantRegistered:
    tenant: TenantInfo
    # Open tickets whose due dates were recomputed (their watchers are woken).
    retargeted: int


class TenantFlows(Flow):
    """Every door (HTTP `PUT /tenants/{id}`, the CLI, the `register_tenant` activity) registers
    tenants through here."""

    async def register_tenant(
        self, change: RegisterTenantInput, *, stored_policy: SlaPolicy | None = None
    ) -> TenantRegistered:
        """Create or update the tenant; with a new time zone or SLA policy, re-target its open
        tickets in the same transaction and wake their watchers after the commit.

        `change.sla_policy` is a policy document (as `ticketing sla set` takes it);
        `stored_policy` is an already built policy stored as it is (the CLI's demo policy).
        """

        async def command(session: AsyncSession, duties: AfterCommit) -> TenantRegistered:
            row = await TenantService(session, self.principal).register_tenant(
                change.tenant_id,
                name=change.name,
                partner_id=change.partner_id,
                timezone=change.timezone,
                support_email=change.support_email,
                sla_policy=stored_policy,
                public_tags=change.public_tags,
            )
            policies = SlaPolicyService(session, self.principal)
            moved: list[uuid.UUID] = []
            if change.sla_policy is not None:
                _, moved = await policies.set_policy(
                    change.tenant_id, change.sla_policy, timezone=change.timezone
                )
            elif change.timezone is not None or stored_policy is not None:
                await session.flush()
                moved = await policies.retarget_open_tickets(change.tenant_id)
            for ticket_id in moved:
                duties.wake(ticket_id)
            await session.refresh(row)
            return TenantRegistered(tenant_info(row), len(moved))

        return await self._committed(command)

    async def upsert_customer(self, change: UpsertCustomerInput) -> Customer:
        """Create or update the customer; a new plan re-targets its open tickets (SLA rules
        match on plans) and wakes their watchers after the commit."""

        async def command(session: AsyncSession, duties: AfterCommit) -> Customer:
            customer, moved = await upsert_following_plan(session, self.principal, change)
            for ticket_id in moved:
                duties.wake(ticket_id)
            return customer

        return await self._committed(command)


async def upsert_following_plan(
    session: AsyncSession, principal: Principal, change: UpsertCustomerInput
) -> tuple[Customer, list[uuid.UUID]]:
    """Upsert the customer in the caller's transaction; returns it and the open tickets a plan
    change re-targeted (the same plan again moves nothing)."""
    before = None
    if change.plan is not None:
        before = await sla_repo.customer_plan(session, change.tenant_id, change.customer_id)
    customer = await TenantService(session, principal).upsert_customer(
        tenant_id=change.tenant_id,
        customer_id=change.customer_id,
        email=change.email,
        name=change.name,
        plan=change.plan,
    )
    if change.plan is None or customer.plan == before:
        return customer, []
    moved = await SlaPolicyService(session, principal).retarget_customer_tickets(
        change.tenant_id, customer.id
    )
    return customer, moved
