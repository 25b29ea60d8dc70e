"""A database that cannot be reached (its unix socket gone while it restarts, connection
refused, every pooled connection dead after a restart) is a passing outage at every door:
retried by activities within their bound, 503 at the API; never bad input."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError

from activities.boundary import activity_boundary
from activities.tickets import NON_RETRYABLE_ERRORS
from tests.services import Services
from tests.web.support import api_app
from ticketing.auth.principal import Principal
from ticketing.db.engine import make_engine, make_sessionmaker
from ticketing.notifications.mailer import Notifier
from ticketing.notifications.service import DirectDelivery
from ticketing.runtime.settings import Settings
from ticketing.tickets.flows import TicketFlows
from ticketing.tickets.ports import NoWatchers
from ticketing.tickets.schemas import TicketInfo

REQUEST = {"title": "No internet", "customer_id": 42}


def flows(sessions: async_sessionmaker[AsyncSession]) -> TicketFlows:
    return TicketFlows(
        sessions,
        Principal.integration("acme", name="workflow"),
        watchers=NoWatchers(),
        notices=DirectDelivery(sessions, Notifier()),
    )


async def seed(committed: async_sessionmaker[AsyncSession]) -> None:
    async with committed() as session, session.begin():
        service = Services(session)
        await service.tenants.register_tenant("acme")
        await service.tenants.upsert_customer(
            tenant_id="acme", customer_id="42", email="jane@a.test"
        )


@contextlib.asynccontextmanager
async def engine_at(url: str, **settings: int) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(url, Settings(**settings))  # type: ignore[arg-type]
    try:
        yield engine
    finally:
        await engine.dispose()


@contextlib.contextmanager
def socket_removed(database_url: str, tmp_path: Path) -> Iterator[str]:
    """The URL with its server's socket file gone: the running server's own socket moved
    away (and back) when the tests run on a unix socket, else a directory with no socket."""
    url = make_url(database_url)
    host = url.query.get("host")
    if isinstance(host, str) and host.startswith("/"):
        socket = Path(host) / f".s.PGSQL.{url.port or 5432}"
        away = socket.with_name(socket.name + ".away")
        socket.rename(away)
        try:
            yield database_url
        finally:
            away.rename(socket)
    else:
        empty = tmp_path / "no-server-here"
        empty.mkdir()
        yield url.set(host=None, query={**url.query, "host": str(empty)}).render_as_string(
            hide_password=False
        )


def retryable(caught: pytest.ExceptionInfo[ApplicationError]) -> None:
    error = caught.value
    assert not error.non_retryable, error
    assert error.type not in NON_RETRYABLE_ERRORS, error.type


async def create(sessions: async_sessionmaker[AsyncSession]) -> TicketInfo:
    """What the create_ticket activity runs, inside its boundary."""
    async with activity_boundary():
        return await flows(sessions).create(REQUEST)


async def test_a_missing_socket_is_retried_by_activities_and_503_at_the_api(
    committed: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    await seed(committed)
    with socket_removed(database_url, tmp_path) as url:
        async with engine_at(url) as engine:
            sessions = make_sessionmaker(engine)
            with pytest.raises(ApplicationError) as caught:
                await create(sessions)
            retryable(caught)
            assert "FileNotFoundError" in caught.value.message
            transport = httpx.ASGITransport(app=api_app(sessions))
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
                answer = await client.post(
                    "/api/v1/tickets", json=REQUEST, headers={"Authorization": "Bearer tk_x"}
                )
            assert answer.status_code == 503, answer.text
            assert answer.json()["type"] == "ServiceUnavailable"
    # The socket back, the same call (a retry) succeeds.
    async with engine_at(database_url) as engine:
        ticket = await create(make_sessionmaker(engine))
    assert ticket.ticket_number == "TKT-000001"


async def test_a_refused_connection_is_retried(
    committed: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    from tests.notifications.smtp_support import free_port

    url = make_url(database_url)
    refused = url.set(host="127.0.0.1", port=free_port(), query={}).render_as_string(
        hide_password=False
    )
    async with engine_at(refused) as engine:
        with pytest.raises(ApplicationError) as caught:
            await create(make_sessionmaker(engine))
    retryable(caught)


async def test_after_a_restart_the_retry_gets_a_fresh_connection(
    committed: async_sessionmaker[AsyncSession], database_url: str, owner_engine: AsyncEngine
) -> None:
    """A server restart kills every pooled connection; the first attempt finds out, and the
    next one must not draw another dead connection (a pool outlasts the retry bound)."""
    await seed(committed)
    async with engine_at(database_url, db_pool_size=5, db_max_overflow=0) as engine:
        sessions = make_sessionmaker(engine)
        # Fill the pool: five connections open at once, each noting its server process.
        held = [await engine.connect() for _ in range(5)]
        pids = [(await c.execute(text("SELECT pg_backend_pid()"))).scalar() for c in held]
        for connection in held:
            await connection.close()
        async with owner_engine.connect() as owner:
            await owner.execute(
                text("SELECT pg_terminate_backend(pid) FROM unnest(CAST(:pids AS int[])) pid"),
                {"pids": pids},
            )
            # Terminated means gone: wait for the server to say so (bounded by the loop).
            for _ in range(200):
                alive = await owner.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                    {"pids": pids},
                )
                if alive.scalar() == 0:
                    break
                await asyncio.sleep(0.05)
        with pytest.raises(ApplicationError) as caught:
            await create(sessions)
        retryable(caught)
        ticket = await create(sessions)
    assert ticket.ticket_number == "TKT-000001"
