"""The API's key cache: a key seen active is not looked up again for the TTL; a revoke through
the API ends it at once; one made elsewhere ends it within the TTL; 0 turns the cache off."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.web.support import clear_keys, seed
from ticketing.auth.apikeys import ApiKeyService
from ticketing.auth.keycache import KeyCache
from ticketing.auth.models import KeyRole
from ticketing.auth.principal import Principal
from ticketing.notifications.mailer import Notifier
from ticketing.notifications.service import DirectDelivery
from ticketing.tickets.ports import NoWatchers
from ticketing.web.app import create_app
from ticketing.web.deps import ApiPorts

TICKETS = "/api/v1/tickets"
PLATFORM = Principal.platform(name="test")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Api:
    client: httpx.AsyncClient
    clock: Clock


def counting(
    committed: async_sessionmaker[AsyncSession],
) -> tuple[async_sessionmaker[AsyncSession], list[int]]:
    """The same sessions, counting how many are opened."""
    opened = [0]

    class Counted(AsyncSession):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            opened[0] += 1
            super().__init__(*args, **kwargs)

    return async_sessionmaker(class_=Counted, **committed.kw), opened


@asynccontextmanager
async def api_with(committed: async_sessionmaker[AsyncSession], ttl: float) -> AsyncIterator[Api]:
    clock = Clock()
    ports = ApiPorts(
        committed,
        NoWatchers(),
        DirectDelivery(committed, Notifier()),
        keys=KeyCache(ttl, timer=clock),
    )
    transport = httpx.ASGITransport(app=create_app(ports))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield Api(client, clock)


@pytest_asyncio.fixture
async def keyed(
    committed: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await seed(committed)
    yield committed
    await clear_keys(engine)


async def issue(committed: async_sessionmaker[AsyncSession]) -> tuple[str, str]:
    async with committed() as session, session.begin():
        issued = await ApiKeyService(session, PLATFORM).issue(
            KeyRole.TENANT_ADMIN, tenant_id="acme", name="cached"
        )
    return issued.key, str(issued.key_id)


async def revoke_elsewhere(committed: async_sessionmaker[AsyncSession], key_id: str) -> None:
    """As `ticketing apikey revoke` does, from another process: this API is not told."""
    async with committed() as session, session.begin():
        await ApiKeyService(session, PLATFORM).revoke(uuid.UUID(key_id))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def status(api: Api, key: str) -> int:
    """The status of a ticket list made with `key`."""
    return (await api.client.get(TICKETS, headers=bearer(key))).status_code


async def test_a_known_key_is_looked_up_once_within_the_ttl(
    keyed: async_sessionmaker[AsyncSession],
) -> None:
    key, _ = await issue(keyed)
    sessions, opened = counting(keyed)
    clock = Clock()
    cache = KeyCache(5, timer=clock)
    for _ in range(3):
        principal = await cache.principal(sessions, key)
        assert principal is not None and principal.tenant_id == "acme"
    assert opened[0] == 1
    clock.now = 5.1
    assert await cache.principal(sessions, key) == principal
    assert opened[0] == 2


async def test_a_key_revoked_elsewhere_works_here_at_most_the_ttl(
    keyed: async_sessionmaker[AsyncSession],
) -> None:
    key, key_id = await issue(keyed)
    async with api_with(keyed, ttl=5) as api:
        assert await status(api, key) == 200
        await revoke_elsewhere(keyed, key_id)
        api.clock.now = 4.9
        assert await status(api, key) == 200
        api.clock.now = 5.1
        refused = await api.client.get(TICKETS, headers=bearer(key))
        assert refused.status_code == 401 and refused.json()["type"] == "Unauthorized"


async def test_a_revoke_through_the_api_ends_the_key_at_once(
    keyed: async_sessionmaker[AsyncSession],
) -> None:
    key, key_id = await issue(keyed)
    async with api_with(keyed, ttl=300) as api:
        assert await status(api, key) == 200
        # The key revokes itself (a tenant admin may revoke its tenant's keys).
        revoked = await api.client.delete(f"/api/v1/api-keys/{key_id}", headers=bearer(key))
        assert revoked.status_code == 200, revoked.text
        assert await status(api, key) == 401


async def test_ttl_zero_looks_every_key_up(keyed: async_sessionmaker[AsyncSession]) -> None:
    key, key_id = await issue(keyed)
    sessions, opened = counting(keyed)
    cache = KeyCache(0)
    assert await cache.principal(sessions, key) is not None
    assert await cache.principal(sessions, key) is not None
    assert opened[0] == 2
    await revoke_elsewhere(keyed, key_id)
    assert await cache.principal(sessions, key) is None


async def test_unknown_keys_are_not_remembered_and_keys_are_kept_hashed(
    keyed: async_sessionmaker[AsyncSession],
) -> None:
    key, _ = await issue(keyed)
    cache = KeyCache(60)
    assert await cache.principal(keyed, "tk_not-a-key") is None
    assert await cache.principal(keyed, "tk_not-a-key") is None
    principal = await cache.principal(keyed, key)
    assert principal is not None and principal.tenant_id == "acme"
    entries = cache._entries
    assert entries is not None and len(entries) == 1
    assert key not in entries and all(len(k) == 64 for k in entries)
