"""Declaring an outage the way the NOC does, for the pages' tests (inline pages, queued mail)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.auth.principal import Principal
from ticketing.notifications.service import QueueOnly
from ticketing.outages.flows import OutageFlows
from ticketing.outages.schemas import OutageDeclared, default_update_key
from ticketing.tenants.service import TenantService
from ticketing.tickets.ports import NoWatchers


def noc(sessions: async_sessionmaker[AsyncSession], tenant: str = "acme") -> OutageFlows:
    admin = Principal.tenant_admin(tenant, name=f"noc@{tenant}.test")
    return OutageFlows(sessions, admin, watchers=NoWatchers(), notices=QueueOnly())


async def tag_customer(
    sessions: async_sessionmaker[AsyncSession], tenant: str, customer: str, *tags: str
) -> None:
    async with sessions() as session, session.begin():
        await TenantService(session, Principal.platform()).upsert_customer(
            tenant_id=tenant, customer_id=customer, tags=list(tags)
        )


async def set_public_tags(
    sessions: async_sessionmaker[AsyncSession], tenant: str, *rules: str
) -> None:
    async with sessions() as session, session.begin():
        await TenantService(session, Principal.platform()).register_tenant(
            tenant, public_tags=list(rules)
        )


async def declare(
    sessions: async_sessionmaker[AsyncSession],
    *,
    tenant: str = "acme",
    title: str = "Fibre cut in Berlin-Mitte",
    tags: tuple[str, ...] = ("olt:berlin-7", "postcode:10115"),
    description: str = "A digger cut the fibre; a crew is on the way.",
    eta: datetime | None = None,
) -> OutageDeclared:
    request: dict[str, object] = {"title": title, "tags": list(tags), "description": description}
    if eta is not None:
        request["eta"] = eta.isoformat()
    return await noc(sessions, tenant).declare(request)


async def post_update(
    sessions: async_sessionmaker[AsyncSession], number: str, body: str, tenant: str = "acme"
) -> None:
    await noc(sessions, tenant).post_update(number, body, key=default_update_key(number, body))
