"""Sliding-window rate limits for the public tracking lookups, kept in PostgreSQL so every API
process (`ticketing api --workers N`, several hosts) counts in one place and a flood of
distinct keys can neither exhaust a process's memory nor wipe the windows already spent."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.rls import bind_system


@dataclass(frozen=True)
class Limit:
    attempts: int
    seconds: float


@dataclass(frozen=True)
class TrackingLimits:
    """Lookups (POST /track) allowed per window; every attempt counts, found or not."""

    per_address: Limit = Limit(30, 600)
    per_email: Limit = Limit(10, 900)
    per_number: Limit = Limit(10, 900)


# Expired rows deleted per lookup: more than the (at most three) rows a lookup adds, so the
# table holds only live windows however many distinct keys arrive.
PRUNE_PER_LOOKUP = 16

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


class LookupLimiter:
    """One window per client address, per email and per ticket number, shared by every
    process on the database. Keys are stored as keyed digests, never as sent."""

    def __init__(
        self,
        limits: TrackingLimits,
        secret: bytes,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.limits = limits
        self._key = hmac.digest(secret, b"ticketing-tracking:limits", "sha256")
        self.clock = clock

    def _digest(self, bucket: str, value: str) -> bytes:
        return hmac.digest(self._key, f"{bucket}:{value}".encode("utf-8", "replace"), "sha256")

    async def allow(self, session: AsyncSession, *, address: str, email: str, number: str) -> bool:
        """Count an attempt; False once any window already holds its `attempts`. Runs in its
        own transaction on `session` (which must have none)."""
        keys = {
            "address": self._digest("address", address),
            "email": self._digest("email", email.strip().lower()[:254]),
            "number": self._digest("number", number.strip().upper()[:32]),
        }
        now = self.clock()
        windows = {
            "address": self.limits.per_address,
            "email": self.limits.per_email,
            "number": self.limits.per_number,
        }
        params: dict[str, object] = {"now": now, "prune": PRUNE_PER_LOOKUP}
        for bucket, limit in windows.items():
            params[bucket] = keys[bucket]
            params[f"{bucket}_since"] = now - timedelta(seconds=limit.seconds)
            params[f"{bucket}_max"] = limit.attempts
        longest = max(limit.seconds for limit in windows.values())
        params["forgotten"] = now - timedelta(seconds=longest)
        bind_system(session)
        async with session.begin():
            # Concurrent lookups of one key take turns, so a burst cannot all read the same
            # count; locks in one order, so two lookups never wait on each other in a circle.
            for lock in sorted(int.from_bytes(k[:8], "big", signed=True) for k in keys.values()):
                await session.execute(_LOCK, {"key": lock})
            allowed = (await session.execute(_COUNT_AND_RECORD, params)).scalar_one()
        return bool(allowed)
