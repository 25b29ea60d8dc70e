"""All SQL about API keys."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.models import ApiKey, KeyRole
from ticketing.db.driver import driver_connection

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
    row: Sequence[Any] | None = await driver.fetchrow(_FIND_ACTIVE, key_hash)  # type: ignore[assignment]
    if row is None:
        return None
    return str(row[0]), row[1], row[2], row[3], str(row[4])


async def find_active_key(
    session: AsyncSession, key_hash: str
) -> tuple[uuid.UUID, KeyRole, str | None] | None:
    """An active key's id, role and tenant: the chat endpoints derive the key's identity
    secret from its id."""
    row = (
        await session.execute(
            select(ApiKey.id, ApiKey.role, ApiKey.tenant_id).where(
                ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)
            )
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1], row[2])


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
