"""All SQL about API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.models import ApiKey
from ticketing.db_driver import driver_connection

_FIND_ACTIVE = (
    "SELECT role, tenant_id, partner_id, name, prefix FROM api_keys "
    "WHERE key_hash = $1 AND revoked_at IS NULL"
)


async def find_active_alone(
    session: AsyncSession, key_hash: str
) -> tuple[str, str | None, str | None, str | None, str] | None:
    """An active key's scope columns, read on the driver outside any transaction (the session
    must not have begun one)."""
    driver = await driver_connection(session, transaction=False)
    row = await driver.fetchrow(_FIND_ACTIVE, key_hash)
    if row is None:
        return None
    role, tenant_id, partner_id, name, prefix = row  # type: ignore[misc]
    return str(role), tenant_id, partner_id, name, str(prefix)


async def revoke(session: AsyncSession, key_id: uuid.UUID, now: datetime) -> ApiKey | None:
    """Mark the key revoked (a second revoke keeps the first time); None if no such key."""
    await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return await session.get(ApiKey, key_id, populate_existing=True)


async def list_keys(
    session: AsyncSession, *, tenant_id: str | None, include_revoked: bool
) -> list[ApiKey]:
    query = select(ApiKey)
    if tenant_id is not None:
        query = query.where(ApiKey.tenant_id == tenant_id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return list((await session.execute(query.order_by(ApiKey.created_at, ApiKey.id))).scalars())
