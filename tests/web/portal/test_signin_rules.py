"""The sign-in link's and the session's time rules (DESIGN.md, "Customer portal (web)"), on the
real database with the sign-in's own clock moved instead of waiting: a link works for 15
minutes, a newer one voids it, five links per address an hour, and a session ends after 8 h
idle or 7 days in all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.web.portal.conftest import JANE, SAM, SECRET, seed
from ticketing.tenants.portal_signin import PortalSignIn

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


class Clock:
    """The time the sign-in reads; tests move it."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


class Portal:
    """A fresh PortalSignIn (its own session, as each web request has) on the test's clock."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock

    async def link(self, email: str, tenant: str = "acme") -> str | None:
        async with self.sessions() as session:
            sent = await PortalSignIn(session, secret=SECRET, clock=self.clock).request_link(
                tenant, email
            )
        return sent.token if sent else None

    async def opens(self, token: str) -> bool:
        """Whether the link's page still offers the button (it does not use the link)."""
        async with self.sessions() as session:
            tenant = await PortalSignIn(session, secret=SECRET, clock=self.clock).link_tenant(token)
        return tenant is not None

    async def sign_in(self, token: str) -> str | None:
        async with self.sessions() as session:
            return await PortalSignIn(session, secret=SECRET, clock=self.clock).sign_in(token)

    async def signed_in(self, cookie: str) -> bool:
        async with self.sessions() as session:
            me = await PortalSignIn(session, secret=SECRET, clock=self.clock).identity(cookie)
        return me is not None


@pytest_asyncio.fixture
async def portal(committed: async_sessionmaker[AsyncSession]) -> AsyncIterator[Portal]:
    await seed(committed)
    yield Portal(committed, Clock())


async def test_a_link_works_for_15_minutes_and_not_a_second_longer(portal: Portal) -> None:
    janes, sams = await portal.link(JANE), await portal.link(SAM)
    assert janes and sams
    portal.clock.advance(timedelta(minutes=15) - SECOND)
    assert await portal.opens(janes)
    assert await portal.sign_in(sams) is not None
    portal.clock.advance(2 * SECOND)
    # Unused, never replaced, only late: neither its page nor the button works any more.
    assert not await portal.opens(janes)
    assert await portal.sign_in(janes) is None


async def test_a_newer_link_voids_the_older_one_of_that_address_in_that_tenant(
    portal: Portal,
) -> None:
    older = await portal.link(JANE)
    globex = await portal.link(JANE, tenant="globex")
    portal.clock.advance(timedelta(minutes=1))
    newer = await portal.link("JANE@example.com")  # the same address in another case
    assert older and globex and newer
    # Well within its 15 minutes, yet replaced.
    assert not await portal.opens(older)
    assert await portal.sign_in(older) is None
    assert await portal.sign_in(newer) is not None
    # The same address's link at another tenant is another customer's: it still works.
    assert await portal.sign_in(globex) is not None


async def test_five_links_per_address_an_hour_then_again_after_the_hour(
    portal: Portal,
) -> None:
    for _ in range(5):
        assert await portal.link(SAM) is not None
        portal.clock.advance(timedelta(minutes=1))
    assert await portal.link(SAM) is None
    assert await portal.link(JANE) is not None  # another address is not limited by Sam's
    # An hour after the first link, it no longer counts: one more may go.
    portal.clock.advance(timedelta(minutes=55) + SECOND)
    last = await portal.link(SAM)
    assert last is not None
    assert await portal.link(SAM) is None  # the other four still count, with this one
    assert await portal.sign_in(last) is not None


async def test_a_session_ends_after_8_hours_idle(portal: Portal) -> None:
    token = await portal.link(JANE)
    assert token
    cookie = await portal.sign_in(token)
    assert cookie
    # Each visit restarts the idle time: three visits just under 8 h apart keep it open.
    for _ in range(3):
        portal.clock.advance(timedelta(hours=8) - SECOND)
        assert await portal.signed_in(cookie)
    portal.clock.advance(timedelta(hours=8) + SECOND)
    assert not await portal.signed_in(cookie)
    # Ended server-side: going back in time does not bring it back.
    portal.clock.advance(-timedelta(hours=8))
    assert not await portal.signed_in(cookie)


async def test_a_session_ends_7_days_after_sign_in_however_busy(portal: Portal) -> None:
    token = await portal.link(JANE)
    assert token
    cookie = await portal.sign_in(token)
    assert cookie
    # Used every 6 hours, never idle, for 7 days less a second.
    for _ in range(27):
        portal.clock.advance(timedelta(hours=6))
        assert await portal.signed_in(cookie)
    portal.clock.now = START + timedelta(days=7) - SECOND
    assert await portal.signed_in(cookie)
    portal.clock.advance(2 * SECOND)
    assert not await portal.signed_in(cookie)
