"""All SQL about API keys."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
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


# One statement: count each window, record the attempt in each window that still has room
# (nothing at all once the address's window is spent: a single client cannot grow the table
# past its own limit), and drop a few rows that every window has forgotten.
_COUNT_AND_RECORD = text(
    """
WITH counts AS (
    SELECT
      (SELECT count(*) FROM tracking_lookups
        WHERE bucket = 'address' AND key_hash = :address AND at > :address_since) AS address,
      (SELECT count(*) FROM tracking_lookups
        WHERE bucket = 'email' AND key_hash = :email AND at > :email_since) AS email,
      (SELECT count(*) FROM tracking_lookups
        WHERE bucket = 'number' AND key_hash = :number AND at > :number_since) AS number
), recorded AS (
    INSERT INTO tracking_lookups (bucket, key_hash, at)
    SELECT v.bucket, v.key_hash, :now
    FROM counts, (VALUES ('address', CAST(:address AS bytea)), ('email', CAST(:email AS bytea)),
                         ('number', CAST(:number AS bytea))) AS v(bucket, key_hash)
    WHERE counts.address < :address_max
      AND (v.bucket = 'address'
           OR (v.bucket = 'email' AND counts.email < :email_max)
           OR (v.bucket = 'number' AND counts.number < :number_max))
), pruned AS (
    DELETE FROM tracking_lookups WHERE id IN (
        SELECT id FROM tracking_lookups WHERE at <= :forgotten ORDER BY at LIMIT :prune)
)
SELECT address < :address_max AND email < :email_max AND number < :number_max FROM counts
"""
)
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


async def count_and_record_lookup(
    session: AsyncSession, locks: list[int], params: dict[str, object]
) -> bool:
    """Count each tracking-lookup window and record the attempt where there is room; True if
    every window still had room. Concurrent lookups of one key take turns (so a burst cannot
    all read the same count); locks are taken in one order, so none wait in a circle."""
    for lock in sorted(locks):
        await session.execute(_LOCK, {"key": lock})
    return bool((await session.execute(_COUNT_AND_RECORD, params)).scalar_one())
