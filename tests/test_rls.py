"""Row-level security: a query that forgot the tenant filter still sees one tenant only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from tests.temporal_support import create_ticket, seed_tenant
from ticketing import rls
from ticketing.auth.principal import Principal

Sessions = async_sessionmaker[AsyncSession]
LOGIN_ROLE = "ticketing_test_app"
LOGIN_PASSWORD = "test-only-app-password"
FORGETFUL = {
    "tickets": "SELECT DISTINCT tenant_id FROM tickets",
    "customers": "SELECT DISTINCT tenant_id FROM customers",
    "notifications": "SELECT DISTINCT tenant_id FROM notifications",
    "ticket_messages": "SELECT DISTINCT t.tenant_id FROM ticket_messages m "
    "JOIN tickets t ON t.id = m.ticket_id",
    "ticket_events": "SELECT DISTINCT t.tenant_id FROM ticket_events e "
    "JOIN tickets t ON t.id = e.ticket_id",
}


@pytest_asyncio.fixture
async def app_sessions(
    engine: AsyncEngine, database_url: str, committed: Sessions
) -> AsyncIterator[Sessions]:
    """Sessions of a login role in `ticketing_app`, which owns no table (one connection, so
    consecutive transactions share it)."""
    async with engine.begin() as connection:
        await connection.execute(
            text(
                f"""DO $$ BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{LOGIN_ROLE}') THEN
                    CREATE ROLE {LOGIN_ROLE} LOGIN PASSWORD '{LOGIN_PASSWORD}'
                        IN ROLE ticketing_app;
                END IF;
            END $$"""
            )
        )
    url = make_url(database_url).set(username=LOGIN_ROLE, password=LOGIN_PASSWORD)
    app_engine = create_async_engine(url, pool_size=1, max_overflow=0)
    rls.install(app_engine.sync_engine)
    yield async_sessionmaker(
        app_engine, expire_on_commit=False, sync_session_class=rls.ScopedSession
    )
    await app_engine.dispose()


async def two_tenants(sessions: Sessions) -> None:
    await seed_tenant(sessions, tenant_id="acme", customer_id="42")
    await seed_tenant(sessions, tenant_id="globex", customer_id="7")
    now = datetime.now(UTC)
    await create_ticket(sessions, now, tenant_id="acme")
    await create_ticket(sessions, now, tenant_id="globex", customer_id=7)


async def visible_tenants(sessions: Sessions, principal: Principal | None) -> dict[str, list[str]]:
    async with sessions() as session, session.begin():
        if principal is not None:
            rls.bind_scope(session, principal)
        return {
            table: sorted((await session.execute(text(sql))).scalars())
            for table, sql in FORGETFUL.items()
        }


async def test_a_query_without_the_tenant_filter_sees_only_its_tenant(
    committed: Sessions, app_sessions: Sessions
) -> None:
    await two_tenants(committed)
    acme = await visible_tenants(app_sessions, Principal.tenant_agent("acme"))
    assert acme == {table: ["acme"] for table in FORGETFUL}
    assert await visible_tenants(app_sessions, None) == {table: [] for table in FORGETFUL}
    platform = await visible_tenants(app_sessions, Principal.platform())
    assert platform == {table: ["acme", "globex"] for table in FORGETFUL}
    # The owner (migrations) is not subject to the policies.
    assert await visible_tenants(committed, None) == platform


async def test_a_write_into_another_tenants_ticket_is_refused(
    committed: Sessions, app_sessions: Sessions
) -> None:
    await two_tenants(committed)
    async with committed() as session:
        globex_ticket = (
            await session.execute(text("SELECT id FROM tickets WHERE tenant_id = 'globex'"))
        ).scalar_one()
    with pytest.raises(DBAPIError, match="row-level security"):
        await reply_as_acme(app_sessions, globex_ticket)
    async with app_sessions() as session, session.begin():
        rls.bind_scope(session, Principal.tenant_agent("acme"))
        moved = await session.execute(text("UPDATE tickets SET title = 'mine now'"))
    assert moved.rowcount == 1  # type: ignore[attr-defined]


async def test_the_scope_costs_a_statement_only_when_it_changes(
    committed: Sessions, app_sessions: Sessions
) -> None:
    await two_tenants(committed)
    engine = app_sessions.kw["bind"]
    sent: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "set_config" in statement:
            sent.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    acme = Principal.tenant_agent("acme")
    await visible_tenants(app_sessions, acme)
    await visible_tenants(app_sessions, acme)
    assert len(sent) == 1
    # A transaction that switched to globex and rolled back leaves the connection on acme.
    with pytest.raises(RuntimeError):
        await rolled_back_as_globex(app_sessions)
    assert await visible_tenants(app_sessions, acme) == {table: ["acme"] for table in FORGETFUL}
    assert len(sent) == 2


async def reply_as_acme(sessions: Sessions, ticket_id: object) -> None:
    async with sessions() as session, session.begin():
        rls.bind_scope(session, Principal.tenant_agent("acme"))
        await session.execute(
            text(
                "INSERT INTO ticket_messages (ticket_id, author_actor, body, is_internal, "
                "created_at) VALUES (:ticket, 'tenant', 'hi', false, now())"
            ),
            {"ticket": ticket_id},
        )


async def rolled_back_as_globex(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        rls.bind_scope(session, Principal.tenant_agent("globex"))
        await session.execute(text("SELECT 1"))
        raise RuntimeError("rolled back")
