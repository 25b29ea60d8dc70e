"""Sliding-window rate limits for the public tracking lookups, kept in PostgreSQL so every API
process (`ticketing api --workers N`, several hosts) counts in one place and a flood of
distinct keys can neither exhaust a process's memory nor wipe the windows already spent."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth import repository as repo
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
        locks = [int.from_bytes(k[:8], "big", signed=True) for k in keys.values()]
        bind_system(session)
        async with session.begin():
            return await repo.count_and_record_lookup(session, locks, params)
