"""Shared fixtures: a real PostgreSQL (pgserver or TICKETING_TEST_DATABASE_URL), migrated."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool
from temporalio.testing import WorkflowEnvironment

from tests.services import Services
from tests.temporal_support import dev_server, time_skipping_server
from ticketing.db.engine import make_engine, migrate
from ticketing.db.rls import EVERYTHING, ScopedSession
from ticketing.runtime.settings import Settings

TABLES = (
    "notifications, sla_breaches, ticket_events, ticket_messages, tickets, customers, tenants, "
    "tracking_lookups, desk_login_throttle, "
    "partners"
)


# The role every test's app code connects as: a member of `ticketing_app` owning no table, as
# in a deployment, so row-level security holds in every test. The owner only migrates and
# empties tables.
APP_LOGIN = "ticketing_test_app"
APP_PASSWORD = "test-only-app-password"


class ObserverSession(ScopedSession):
    """Test code seeds and checks as the platform; the app code under test binds its own
    principal's scope on these sessions, and the app's own sessionmaker (test_rls) shows an
    unbound session sees nothing."""

    unbound_scope = EVERYTHING


def observer_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=ObserverSession)


@pytest.fixture(scope="session")
def owner_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TICKETING_TEST_DATABASE_URL")
    if url:
        return url
    from ticketing.db.embedded import embedded_postgres_url, stop_embedded_postgres

    home = Path(tmp_path_factory.mktemp("pg"))
    url = embedded_postgres_url(home)
    yield url  # type: ignore[misc]
    stop_embedded_postgres(home)


@pytest.fixture(scope="session")
def database_url(owner_url: str) -> str:
    """The app role's URL on the migrated database (the owner's is `owner_url`)."""
    migrate(owner_url)
    asyncio.run(_create_app_login(owner_url))
    return (
        make_url(owner_url)
        .set(username=APP_LOGIN, password=APP_PASSWORD)
        .render_as_string(hide_password=False)
    )


async def _create_app_login(owner_url: str) -> None:
    owner = create_async_engine(owner_url, poolclass=NullPool)
    try:
        async with owner.begin() as connection:
            await connection.execute(
                text(
                    f"""DO $$ BEGIN
                    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_LOGIN}') THEN
                        CREATE ROLE {APP_LOGIN} LOGIN PASSWORD '{APP_PASSWORD}'
                            IN ROLE ticketing_app;
                    END IF;
                END $$"""
                )
            )
    finally:
        await owner.dispose()


@pytest_asyncio.fixture(scope="session")
async def owner_engine(database_url: str, owner_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(owner_url, pool_size=2, max_overflow=2)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The app's engine as the app builds it: the app role, scope hooks installed."""
    engine = make_engine(database_url, Settings(db_pool_size=25, db_max_overflow=10))
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose every commit lands in a savepoint of a transaction rolled back at the end."""
    async with engine.connect() as connection:
        outer = await connection.begin()
        session = AsyncSession(
            bind=connection,
            join_transaction_mode="create_savepoint",
            expire_on_commit=False,
            sync_session_class=ObserverSession,
        )
        try:
            yield session
        finally:
            await session.close()
            await outer.rollback()


@pytest_asyncio.fixture
async def committed(
    engine: AsyncEngine, owner_engine: AsyncEngine
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Real commits (for concurrency and workers); the tables are emptied afterwards."""
    await truncate(owner_engine)
    yield observer_sessions(engine)
    await truncate(owner_engine)


async def truncate(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
        await connection.execute(text("UPDATE ticket_counters SET value = 0"))


@pytest_asyncio.fixture
async def service(session: AsyncSession) -> Services:
    return Services(session)


@pytest_asyncio.fixture
async def tenant(service: Services) -> str:
    await service.tenants.register_partner(
        "fiberco", name="FiberCo Partners", email="noc@fiberco.test"
    )
    await service.tenants.register_tenant(
        "acme", name="Acme ISP", support_email="support@acme.test"
    )
    await service.tenants.register_tenant("globex", name="Globex", partner_id="fiberco")
    await service.tenants.upsert_customer(
        tenant_id="acme", customer_id="42", email="jane@example.com", name="Jane"
    )
    await service.tenants.upsert_customer(
        tenant_id="globex", customer_id="7", email="bob@example.com"
    )
    return "acme"


@pytest_asyncio.fixture
async def dev() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh dev server per test: ticket numbers restart with the truncated database, and
    watcher ids (escalation-TKT-000001) must not meet a previous test's workflows."""
    async with dev_server() as env:
        yield env


@pytest_asyncio.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping server per test (the SDK's advice: one environment per test)."""
    async with time_skipping_server() as env:
        yield env
