"""All SQL about partners, tenants and customers."""

from __future__ import annotations

from sqlalchemy import String, column, select, table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.tenants.models import Customer, Partner, Tenant

# Migration 0027's view of the customers' lowered addresses, with its owner's rights and only
# the tenants this transaction may see. Under the customers' row-level policies `lower(email)`
# (not LEAKPROOF) cannot reach an index: a lookup by address read every customer of the tenant
# (56 ms at 100,000); through the view it is one index probe.
CUSTOMER_EMAIL_KEYS = table(
    "customer_email_keys",
    column("tenant_id", String),
    column("id", String),
    column("email_key", String),
)


async def get_tenant(session: AsyncSession, tenant_id: str) -> Tenant | None:
    return await session.get(Tenant, tenant_id)


async def customer_ids_by_email(session: AsyncSession, tenant_id: str, email: str) -> list[str]:
    """The tenant's customers with this address, any case (ix_customers_tenant_email)."""
    keys = CUSTOMER_EMAIL_KEYS.c
    query = (
        select(keys.id)
        .where(keys.tenant_id == tenant_id, keys.email_key == email.lower())
        .order_by(keys.id)
    )
    return list((await session.scalars(query)).all())


async def get_partner(session: AsyncSession, partner_id: str) -> Partner | None:
    return await session.get(Partner, partner_id)


async def insert_customer_if_absent(
    session: AsyncSession, *, customer_id: str, tenant_id: str, email: str | None, name: str | None
) -> None:
    await session.execute(
        pg_insert(Customer)
        .values(id=customer_id, tenant_id=tenant_id, email=email, name=name)
        .on_conflict_do_nothing(index_elements=[Customer.tenant_id, Customer.id])
    )


async def lock_customer(session: AsyncSession, tenant_id: str, customer_id: str) -> Customer:
    return (
        await session.execute(
            select(Customer)
            .where(Customer.tenant_id == tenant_id, Customer.id == customer_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


async def list_partners(session: AsyncSession) -> list[Partner]:
    return list(await session.scalars(select(Partner).order_by(Partner.id)))


async def list_tenants(
    session: AsyncSession, *, only: str | None, after: str | None, limit: int
) -> list[Tenant]:
    """Tenants by id (keyset paging after `after`); `only`: that one tenant or none."""
    query = select(Tenant).order_by(Tenant.id).limit(limit)
    if only is not None:
        query = query.where(Tenant.id == only)
    if after is not None:
        query = query.where(Tenant.id > after)
    return list(await session.scalars(query))


async def list_customers(
    session: AsyncSession, tenant_id: str, *, after: str | None, limit: int
) -> list[Customer]:
    """A tenant's customers by id (keyset paging after `after`)."""
    query = (
        select(Customer).where(Customer.tenant_id == tenant_id).order_by(Customer.id).limit(limit)
    )
    if after is not None:
        query = query.where(Customer.id > after)
    return list(await session.scalars(query))


async def get_customer(session: AsyncSession, tenant_id: str, customer_id: str) -> Customer | None:
    return await session.get(Customer, (tenant_id, customer_id))
