"""Row-level security: through the app's own engine, a query that forgot the tenant filter
still sees one tenant only, and the create path, ticket reads and tracking work under it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from structlog.testing import capture_logs

from tests.temporal_support import create_ticket, seed_tenant
from ticketing.auth.apikeys import ApiKeyService, KeyRole, authenticate
from ticketing.auth.principal import Principal
from ticketing.core.errors import NotFound
from ticketing.db import rls
from ticketing.db.engine import (
    bypasses_row_security,
    make_engine,
    make_sessionmaker,
    prepare_schema,
)
from ticketing.runtime.settings import Settings
from ticketing.teams.schemas import AgentCreate, TeamCreate
from ticketing.teams.service import TeamService
from ticketing.tickets.public_lookup import find_by_link, find_by_number_and_email
from ticketing.tickets.schemas import TicketInfo
from ticketing.tickets.service import TicketService

Sessions = async_sessionmaker[AsyncSession]
FORGETFUL = {
    "tickets": "SELECT DISTINCT tenant_id FROM tickets",
    "customers": "SELECT DISTINCT tenant_id FROM customers",
    "notifications": "SELECT DISTINCT tenant_id FROM notifications",
    "ticket_messages": "SELECT DISTINCT t.tenant_id FROM ticket_messages m "
    "JOIN tickets t ON t.id = m.ticket_id",
    "ticket_events": "SELECT DISTINCT t.tenant_id FROM ticket_events e "
    "JOIN tickets t ON t.id = e.ticket_id",
    "teams": "SELECT DISTINCT tenant_id FROM teams",
    "agents": "SELECT DISTINCT tenant_id FROM agents",
    "team_members": "SELECT DISTINCT tenant_id FROM team_members",
    "api_keys": "SELECT DISTINCT tenant_id FROM api_keys WHERE tenant_id IS NOT NULL",
}


@pytest_asyncio.fixture
async def app_sessions(database_url: str, committed: Sessions) -> AsyncIterator[Sessions]:
    """The app's own engine and sessions (make_engine, make_sessionmaker) on one connection,
    so consecutive transactions share it."""
    app_engine = make_engine(database_url, Settings(db_pool_size=1, db_max_overflow=0))
    yield make_sessionmaker(app_engine)
    await app_engine.dispose()


async def driver_queries(sessions: Sessions) -> list[str]:
    """Every statement the (single) pooled connection of `sessions` sends from now on, as the
    server receives it: the scope goes on the driver itself, below SQLAlchemy's events."""
    sent: list[str] = []
    engine: AsyncEngine = sessions.kw["bind"]
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        raw.driver_connection.add_query_logger(  # type: ignore[union-attr]
            lambda record: sent.append(record.query)
        )
    return sent


async def server_scope(sessions: Sessions) -> str:
    """What the (single) pooled connection of `sessions` holds, asked outside any session."""
    engine: AsyncEngine = sessions.kw["bind"]
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        value = await raw.driver_connection.fetchval(  # type: ignore[union-attr]
            "SELECT current_setting('ticketing.tenant_id', true)"
        )
    return str(value)


async def two_tenants(sessions: Sessions) -> None:
    await seed_tenant(sessions, tenant_id="acme", customer_id="42")
    await seed_tenant(sessions, tenant_id="globex", customer_id="7")
    now = datetime.now(UTC)
    await create_ticket(sessions, now, tenant_id="acme")
    await create_ticket(sessions, now, tenant_id="globex", customer_id=7)
    for tenant in ("acme", "globex"):
        async with sessions() as session, session.begin():
            teams = TeamService(session, Principal.tenant_admin(tenant))
            await teams.create_agent(AgentCreate(email=f"a@{tenant}.test"))
            await teams.create_team(TeamCreate(name="noc"))
            await teams.add_member("noc", f"a@{tenant}.test")
            await ApiKeyService(session, Principal.platform()).issue(
                KeyRole.TENANT_AGENT, tenant_id=tenant
            )


async def visible_tenants(sessions: Sessions, principal: Principal | None) -> dict[str, list[str]]:
    async with sessions() as session, session.begin():
        if principal is not None:
            rls.bind_scope(session, principal)
        return {
            table: sorted((await session.execute(text(sql))).scalars())
            for table, sql in FORGETFUL.items()
        }


async def ticket_id_of(owner_engine: AsyncEngine, tenant: str) -> object:
    async with owner_engine.connect() as connection:
        return (
            await connection.execute(
                text("SELECT id FROM tickets WHERE tenant_id = :t"), {"t": tenant}
            )
        ).scalar_one()


async def test_a_query_without_the_tenant_filter_sees_only_its_tenant(
    committed: Sessions, app_sessions: Sessions, owner_engine: AsyncEngine
) -> None:
    await two_tenants(committed)
    acme = await visible_tenants(app_sessions, Principal.tenant_agent("acme"))
    assert acme == {table: ["acme"] for table in FORGETFUL}
    assert await visible_tenants(app_sessions, None) == {table: [] for table in FORGETFUL}
    platform = await visible_tenants(app_sessions, Principal.platform())
    assert platform == {table: ["acme", "globex"] for table in FORGETFUL}
    # The owner (migrations) is not subject to the policies.
    owner = make_sessionmaker(owner_engine)
    assert await visible_tenants(owner, None) == platform


async def test_a_write_into_another_tenants_ticket_is_refused(
    committed: Sessions, owner_engine: AsyncEngine
) -> None:
    await two_tenants(committed)
    globex_ticket = await ticket_id_of(owner_engine, "globex")
    with pytest.raises(DBAPIError, match="row-level security"):
        await reply_as_acme(committed, globex_ticket)
    async with committed() as session, session.begin():
        rls.bind_scope(session, Principal.tenant_agent("acme"))
        moved = await session.execute(text("UPDATE tickets SET title = 'mine now'"))
    assert moved.rowcount == 1  # type: ignore[attr-defined]


async def test_another_tenants_ticket_reads_as_missing(
    committed: Sessions, owner_engine: AsyncEngine
) -> None:
    await two_tenants(committed)
    globex_ticket = await ticket_id_of(owner_engine, "globex")
    async with committed() as session:
        service = TicketService(session, Principal.tenant_agent("acme"))
        with pytest.raises(NotFound):
            await service.get_ticket(globex_ticket)  # type: ignore[arg-type]
        # A bare read by id, no tenant filter at all: the database itself says nothing.
        rows = await session.execute(
            text("SELECT title FROM tickets WHERE id = :id"), {"id": globex_ticket}
        )
        assert rows.all() == []


async def test_the_create_path_binds_its_scope_without_a_round_trip_once_warm(
    committed: Sessions, app_sessions: Sessions
) -> None:
    await seed_tenant(committed, tenant_id="acme", customer_id="42")
    await seed_tenant(committed, tenant_id="globex", customer_id="7")
    acme = Principal.tenant_agent("acme")
    first = await create_alone(app_sessions, acme, "first")
    assert first.tenant_id == "acme"
    assert await server_scope(app_sessions) == "acme"
    sent = await driver_queries(app_sessions)
    second = await create_alone(app_sessions, acme, "second")
    assert second.tenant_id == "acme" and second.ticket_number == "TKT-000002"
    # The warm connection already holds acme: the read and the self-committing insert are
    # all the create sends, and neither inside a transaction.
    assert len(sent) == 2 and not any("set_config" in q or "BEGIN" in q for q in sent)
    # Another tenant's customer is not found: the create's read sees only acme's customers.
    with pytest.raises(NotFound):
        async with app_sessions() as session:
            await TicketService(session, acme).create_ticket_alone(
                {"title": "x", "customer_id": 7, "tenant_id": "globex"}
            )


async def test_the_tracking_lookup_sees_one_ticket_and_answers_alike_for_any_mismatch(
    committed: Sessions, owner_engine: AsyncEngine
) -> None:
    await two_tenants(committed)
    async with committed() as session:
        found = await find_by_number_and_email(session, "TKT-000002", "jane@example.com")
        assert found is not None and found.principal.tenant_id == "globex"
        # Under the lookup's scope a query that forgot every filter sees that ticket only.
        tickets = (await session.execute(text("SELECT tenant_id FROM tickets"))).all()
        customers = (await session.execute(text("SELECT tenant_id FROM customers"))).all()
        assert tickets == [("globex",)] and customers == [("globex",)]
        writes = await session.execute(text("UPDATE tickets SET title = 'x'"))
        assert writes.rowcount == 0  # type: ignore[attr-defined]
        await session.rollback()
    async with committed() as session:
        assert await find_by_number_and_email(session, "TKT-000002", "eve@example.com") is None
        assert await find_by_number_and_email(session, "TKT-000009", "jane@example.com") is None
        assert await find_by_number_and_email(session, "nonsense", "jane@example.com") is None
    acme_ticket = await ticket_id_of(owner_engine, "acme")
    async with committed() as session:
        linked = await find_by_link(session, acme_ticket)  # type: ignore[arg-type]
        assert linked is not None and linked.principal.tenant_id == "acme"
        tickets = (await session.execute(text("SELECT tenant_id FROM tickets"))).all()
        assert tickets == [("acme",)]


async def test_an_api_key_is_found_before_any_principal_exists(committed: Sessions) -> None:
    await seed_tenant(committed, tenant_id="acme", customer_id="42")
    async with committed() as session, session.begin():
        issued = await ApiKeyService(session, Principal.platform()).issue(
            KeyRole.TENANT_AGENT, tenant_id="acme"
        )
    async with committed() as session:
        principal = await authenticate(session, issued.key)
    assert principal is not None and principal.tenant_id == "acme"


async def test_the_scope_costs_a_statement_only_when_it_changes(
    committed: Sessions, app_sessions: Sessions
) -> None:
    await two_tenants(committed)
    acme = Principal.tenant_agent("acme")
    await visible_tenants(app_sessions, acme)
    sent = await driver_queries(app_sessions)
    await visible_tenants(app_sessions, acme)
    assert not any("set_config" in q for q in sent)
    # A transaction that switched to globex midway and rolled back leaves acme behind, and
    # the connection knows it: the next acme transaction sends nothing.
    with pytest.raises(RuntimeError):
        await rolled_back_as_globex(app_sessions)
    assert await server_scope(app_sessions) == "acme"
    assert await visible_tenants(app_sessions, acme) == {table: ["acme"] for table in FORGETFUL}
    assert sum("set_config" in q for q in sent) == 1
    # A switch before the first statement is session-level at once: held after a rollback.
    with pytest.raises(RuntimeError):
        await as_globex_then_rolled_back(app_sessions)
    assert await server_scope(app_sessions) == "globex"
    assert await visible_tenants(app_sessions, acme) == {table: ["acme"] for table in FORGETFUL}
    assert sum("set_config" in q for q in sent) == 3


async def create_alone(sessions: Sessions, principal: Principal, title: str) -> TicketInfo:
    async with sessions() as session:
        created = await TicketService(session, principal).create_ticket_alone(
            {"title": title, "customer_id": 42}
        )
    return created.ticket


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
        rls.bind_scope(session, Principal.tenant_agent("acme"))
        await session.execute(text("SELECT 1"))
        rls.bind_scope(session, Principal.tenant_agent("globex"))
        assert (await session.execute(text("SELECT DISTINCT tenant_id FROM tickets"))).all() == [
            ("globex",)
        ]
        raise RuntimeError("rolled back")


async def as_globex_then_rolled_back(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        rls.bind_scope(session, Principal.tenant_agent("globex"))
        await session.execute(text("SELECT 1"))
        raise RuntimeError("rolled back")


async def test_a_switch_undone_by_a_savepoint_rollback_is_not_trusted(
    committed: Sessions, app_sessions: Sessions
) -> None:
    await two_tenants(committed)
    async with app_sessions() as session, session.begin():
        rls.bind_scope(session, Principal.tenant_agent("acme"))
        await session.execute(text("SELECT 1"))
        nested = await session.begin_nested()
        rls.bind_scope(session, Principal.tenant_agent("globex"))
        await session.execute(text("SELECT 1"))
        await nested.rollback()
    # PostgreSQL is back on acme; the next globex session must say so again, not trust a cache.
    assert await server_scope(app_sessions) == "acme"
    globex = await visible_tenants(app_sessions, Principal.tenant_agent("globex"))
    assert globex == {table: ["globex"] for table in FORGETFUL}


async def test_a_role_the_policies_do_not_apply_to_is_warned_about_at_start(
    owner_url: str, database_url: str
) -> None:
    """The owner (here a superuser) reads every tenant whatever its scope: a worker, API or CLI
    started on it says so; the app's role (a member of ticketing_app) gets no warning."""
    assert await bypasses_row_security(owner_url)
    assert not await bypasses_row_security(database_url)
    for url, warned in ((owner_url, True), (database_url, False)):
        with capture_logs() as logs:
            await prepare_schema(Settings(database_url=url), url)
        events = [entry for entry in logs if entry["event"] == "row_level_security_bypassed"]
        assert bool(events) is warned, logs
        if warned:
            assert events[0]["log_level"] == "warning"
            assert events[0]["role"] == make_url(owner_url).username
