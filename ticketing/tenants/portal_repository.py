"""All SQL of the customer portal's sign-in links and sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.tenants.models import Customer
from ticketing.tenants.portal_models import PortalLink, PortalSession

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 2405))")


async def lock_address(session: AsyncSession, email_key: bytes) -> None:
    """One request per address at a time: the hourly count cannot be raced past."""
    await session.execute(_LOCK, {"key": email_key.hex()})


async def links_since(session: AsyncSession, email_key: bytes, since: datetime) -> int:
    query = select(func.count()).where(
        PortalLink.email_key == email_key, PortalLink.created_at > since
    )
    return int((await session.execute(query)).scalar_one())


async def void_links(
    session: AsyncSession, tenant_id: str, email_key: bytes, now: datetime
) -> None:
    await session.execute(
        update(PortalLink)
        .where(
            PortalLink.tenant_id == tenant_id,
            PortalLink.email_key == email_key,
            PortalLink.used_at.is_(None),
            PortalLink.voided_at.is_(None),
        )
        .values(voided_at=now)
    )


async def prune_links(session: AsyncSession, before: datetime) -> None:
    """Links too old to count or to use."""
    await session.execute(delete(PortalLink).where(PortalLink.created_at < before))


async def usable_link(session: AsyncSession, token_hash: bytes, now: datetime) -> PortalLink | None:
    query = select(PortalLink).where(
        PortalLink.token_hash == token_hash,
        PortalLink.used_at.is_(None),
        PortalLink.voided_at.is_(None),
        PortalLink.expires_at > now,
    )
    return (await session.execute(query)).scalar_one_or_none()


async def use_link(
    session: AsyncSession, token_hash: bytes, now: datetime
) -> tuple[str, str] | None:
    """Mark the link used if it still may be; its tenant and customer. Of two concurrent
    uses one updates the row, the other finds it used."""
    result = await session.execute(
        update(PortalLink)
        .where(
            PortalLink.token_hash == token_hash,
            PortalLink.used_at.is_(None),
            PortalLink.voided_at.is_(None),
            PortalLink.expires_at > now,
        )
        .values(used_at=now)
        .returning(PortalLink.tenant_id, PortalLink.customer_id)
    )
    row = result.one_or_none()
    return (row[0], row[1]) if row is not None else None


async def session_with_customer(
    session: AsyncSession, id_hash: bytes
) -> tuple[PortalSession, Customer] | None:
    query = (
        select(PortalSession, Customer)
        .join(
            Customer,
            (Customer.tenant_id == PortalSession.tenant_id)
            & (Customer.id == PortalSession.customer_id),
        )
        .where(PortalSession.id_hash == id_hash)
    )
    row = (await session.execute(query)).one_or_none()
    return (row[0], row[1]) if row is not None else None


async def touch_session(session: AsyncSession, id_hash: bytes, now: datetime) -> None:
    await session.execute(
        update(PortalSession).where(PortalSession.id_hash == id_hash).values(last_seen_at=now)
    )


async def delete_session(session: AsyncSession, id_hash: bytes) -> None:
    await session.execute(delete(PortalSession).where(PortalSession.id_hash == id_hash))
