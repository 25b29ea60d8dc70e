"""Recently authenticated API keys, per API process, so most requests need no key lookup.

Keyed by the key's SHA-256 (the plaintext is never kept), bounded in entries and in age. Only
keys found active are remembered: an unknown or revoked key is looked up every time. A revoke
through this process's API forgets every entry at once; one made elsewhere (the CLI, another
API process) takes effect here within the TTL (`TICKETING_API_KEY_CACHE_SECONDS`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cachetools import TTLCache
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.auth.apikeys import authenticate, could_be_key, hash_key
from ticketing.auth.principal import Principal

DEFAULT_TTL_SECONDS = 5.0
MAX_ENTRIES = 10_000


class KeyCache:
    def __init__(
        self,
        ttl: float = DEFAULT_TTL_SECONDS,
        max_entries: int = MAX_ENTRIES,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: TTLCache[str, Principal] | None = (
            TTLCache(maxsize=max_entries, ttl=ttl, timer=timer) if ttl > 0 else None
        )

    async def principal(
        self, sessions: async_sessionmaker[AsyncSession], presented: str
    ) -> Principal | None:
        """The Principal of an active key, from memory when it was seen within the TTL."""
        if self._entries is None or not could_be_key(presented):
            return await _lookup(sessions, presented)
        digest = hash_key(presented)
        cached = self._entries.get(digest)
        if cached is not None:
            return cached
        principal = await _lookup(sessions, presented)
        if principal is not None:
            self._entries[digest] = principal
        return principal

    def forget_all(self) -> None:
        """After a revoke: the next request of every key is looked up again."""
        if self._entries is not None:
            self._entries.clear()


async def _lookup(sessions: async_sessionmaker[AsyncSession], presented: str) -> Principal | None:
    async with sessions() as session:
        return await authenticate(session, presented)
