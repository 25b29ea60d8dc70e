"""The tracking lookups' rate-limit windows: per address, email and number, kept in the
database so every API process counts in one place, bounded without ever being reset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.services import Services
from tests.web.tracking.conftest import SECRET, seed
from ticketing.auth.lookup_limits import PRUNE_PER_LOOKUP, LookupLimiter
from ticketing.auth.signed_links import TrackingTokens
from ticketing.notifications.mailer import Notifier
from ticketing.notifications.service import DirectDelivery
from ticketing.tickets.ports import NoWatchers
from ticketing.web.deps import ApiPorts
from ticketing.web.tracking import Limit, TrackingConfig, TrackingLimits, create_tracking_app

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


async def test_each_window_limits_its_own_key_and_forgets_after_its_time(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    now = [T0]
    limiter = LookupLimiter(
        TrackingLimits(Limit(5, 60), Limit(2, 60), Limit(3, 60)), SECRET, lambda: now[0]
    )

    async def attempt(address: str = "1.1.1.1", email: str = "a@x", number: str = "TKT-1") -> bool:
        async with committed() as session:
            return await limiter.allow(session, address=address, email=email, number=number)

    assert [await attempt(number=f"TKT-{i}") for i in range(3)] == [True, True, False]
    assert await attempt(email="B@x ", number="tkt-9")
    assert await attempt(email="b@x", number="TKT-9")
    assert not await attempt(email="c@x", number="TKT-9 ")  # address: 5 counted
    now[0] = T0 + timedelta(seconds=61)
    assert await attempt()


async def test_a_flood_of_distinct_keys_neither_resets_a_spent_window_nor_grows_the_table(
    committed: async_sessionmaker[AsyncSession], owner_engine: AsyncEngine
) -> None:
    now = [T0]
    limits = TrackingLimits(Limit(1_000_000, 60), Limit(1_000_000, 60), Limit(3, 60))
    limiter = LookupLimiter(limits, SECRET, lambda: now[0])

    async def attempt(address: str, email: str, number: str) -> bool:
        async with committed() as session:
            return await limiter.allow(session, address=address, email=email, number=number)

    for i in range(3):
        assert await attempt("10.0.0.1", f"guess{i}@x", "TKT-000001")
    assert not await attempt("10.0.0.1", "jane@x", "TKT-000001")
    flood = 400
    for i in range(flood):
        await attempt(f"10.1.{i // 250}.{i % 250}", f"junk{i}@x", f"TKT-{900000 + i}")
    # The spent window is still spent: nothing was forgotten to make room.
    assert not await attempt("10.9.9.9", "jane@x", "TKT-000001")

    # Once every window has passed, each lookup deletes more forgotten rows than it adds.
    now[0] = T0 + timedelta(seconds=61)
    later = 3 * flood // (PRUNE_PER_LOOKUP - 3) + 1
    for i in range(later):
        await attempt(f"10.2.0.{i % 250}", f"late{i}@x", f"TKT-{800000 + i}")
    async with owner_engine.connect() as connection:
        rows = (await connection.execute(text("SELECT count(*) FROM tracking_lookups"))).scalar()
    assert rows == 3 * later


def _app(sessions: async_sessionmaker[AsyncSession], limits: TrackingLimits) -> httpx.AsyncClient:
    """One API process's tracking pages (its own router, as each uvicorn worker builds)."""
    ports = ApiPorts(sessions, NoWatchers(), DirectDelivery(sessions, Notifier()))
    config = TrackingConfig(tokens=TrackingTokens(SECRET), limits=limits, lookup_floor=0)
    app = create_tracking_app(ports, config)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://track",
        cookies={"track_browser": "browser-1"},
    )


async def test_every_api_process_counts_in_the_same_window(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    await seed(committed)
    async with committed() as session, session.begin():
        await Services(session).tickets.create_ticket({"title": "No internet", "customer_id": 42})
    limits = TrackingLimits(Limit(1000, 600), Limit(1000, 600), Limit(3, 600))
    csrf = TrackingTokens(SECRET).form_token("browser-1")

    async def lookup(client: httpx.AsyncClient, email: str) -> httpx.Response:
        form = {"csrf": csrf, "number": "TKT-000001", "email": email}
        return await client.post("/track", data=form)

    async with _app(committed, limits) as first, _app(committed, limits) as second:
        opened = await lookup(second, "jane@example.com")
        assert "No internet" in opened.text
        for i in range(2):
            assert "No internet" not in (await lookup(first, f"guess{i}@example.com")).text
        # The number's window (3) is spent across both processes: the right email is refused.
        refused = await lookup(second, "jane@example.com")
    assert refused.status_code == 200
    assert "No internet" not in refused.text
    assert "could not find a ticket" in refused.text
