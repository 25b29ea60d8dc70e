"""A pooled connection the server dropped (a PostgreSQL restart, a terminated backend): the
request that finds it is answered 503, and the next one gets a new connection.

The create's statements and the scope's `set_config` go to asyncpg below SQLAlchemy; before
they invalidated a lost connection, the pool handed the dead one out again and every create
answered 500 until some other statement noticed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from tests.web.support import api_app, clear_keys, problem, seed
from ticketing.auth.principal import Principal
from ticketing.db import rls
from ticketing.db.engine import make_sessionmaker
from ticketing.tickets.service import TicketService

NAME = "lost-connection-test"
BODY = {"title": "No internet", "customer_id": 42}


@pytest_asyncio.fixture
async def one_connection(
    database_url: str, committed: async_sessionmaker[AsyncSession]
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The app's sessions over a pool of one connection, named so a test can drop it."""
    engine = create_async_engine(
        database_url,
        pool_size=1,
        max_overflow=0,
        connect_args={"server_settings": {"application_name": NAME}},
    )
    rls.install(engine.sync_engine)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def drop_connection(owner_engine: AsyncEngine) -> None:
    """Terminate the pool's backend and wait until it is gone (at most 10 s)."""
    async with owner_engine.connect() as connection:
        query = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :n"
        dropped = (await connection.execute(text(query), {"n": NAME})).all()
        assert len(dropped) == 1
        alive = "SELECT count(*) FROM pg_stat_activity WHERE application_name = :n"
        async with asyncio.timeout(10):
            while await connection.scalar(text(alive), {"n": NAME}):
                await connection.commit()  # the activity view is a snapshot per transaction
                await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    ("second_role", "path"),
    [
        # Same scope: the create's first statement (on the driver) finds the connection gone.
        ("tenant_agent", "/api/v1/tickets"),
        # Another scope: the scope's set_config (on the driver) finds it gone.
        ("partner_agent", "/api/v1/tickets?limit=1"),
    ],
)
async def test_a_dropped_connection_answers_503_once_then_the_pool_reconnects(
    one_connection: async_sessionmaker[AsyncSession],
    committed: async_sessionmaker[AsyncSession],
    owner_engine: AsyncEngine,
    engine: AsyncEngine,
    second_role: str,
    path: str,
) -> None:
    keys = await seed(committed)
    transport = httpx.ASGITransport(app=api_app(one_connection))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:

        async def send(role: str) -> httpx.Response:
            if path.endswith("tickets"):
                return await client.post(path, json=BODY, headers=keys.auth(role))
            return await client.get(path, headers=keys.auth(role))

        assert (await send(second_role)).status_code in (200, 201)  # its key is cached now
        # The connection holds the tenant's scope when it is dropped.
        first = await client.post("/api/v1/tickets", json=BODY, headers=keys.auth("tenant_agent"))
        assert first.status_code == 201, first.text
        await drop_connection(owner_engine)
        problem(await send(second_role), 503, "ServiceUnavailable", None)
        again = await send(second_role)
        assert again.status_code in (200, 201), again.text
        created = await client.post("/api/v1/tickets", json=BODY, headers=keys.auth("tenant_agent"))
        assert created.status_code == 201, created.text
    # Gap-free: the refused request took no number.
    numbers = 4 if path.endswith("tickets") else 2
    assert created.json()["ticket_number"] == f"TKT-{numbers:06d}"
    await clear_keys(engine)


async def test_the_service_create_raises_a_retryable_lost_connection_then_succeeds(
    one_connection: async_sessionmaker[AsyncSession],
    committed: async_sessionmaker[AsyncSession],
    owner_engine: AsyncEngine,
    engine: AsyncEngine,
) -> None:
    """What an activity sees: SQLAlchemy's OperationalError (retried), not asyncpg's own."""
    await seed(committed)
    agent = Principal.tenant_agent("acme", name="agent")

    async def create() -> str:
        async with one_connection() as session:
            created = await TicketService(session, agent).create_ticket_alone(dict(BODY))
        return created.ticket.ticket_number

    assert await create() == "TKT-000001"
    await drop_connection(owner_engine)
    with pytest.raises(OperationalError) as raised:
        await create()
    assert raised.value.connection_invalidated
    assert await create() == "TKT-000002"
    await clear_keys(engine)
