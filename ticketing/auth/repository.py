"""All SQL about API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.models import ApiKey


async def find_active(session: AsyncSession, key_hash: str) -> ApiKey | None:
    return (
        await session.execute(
            select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        )
    ).scalar_one_or_none()


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
