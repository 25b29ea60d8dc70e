"""A tracking link opens its ticket only as issued: strict base64url of the exact length."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.services import Services
from tests.web.tracking.conftest import SECRET, seed
from ticketing.auth.signed_links import TrackingTokens
from ticketing.notifications.mailer import Notifier
from ticketing.notifications.service import DirectDelivery
from ticketing.tickets.ports import NoWatchers
from ticketing.web.deps import ApiPorts
from ticketing.web.tracking import TrackingConfig, create_tracking_app


def tracking_client(sessions: async_sessionmaker[AsyncSession]) -> httpx.AsyncClient:
    ports = ApiPorts(sessions, NoWatchers(), DirectDelivery(sessions, Notifier()))
    app = create_tracking_app(ports, TrackingConfig(tokens=TrackingTokens(SECRET), lookup_floor=0))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://track")


def spellings(token: str) -> list[str]:
    """The same token with what a lenient decoder ignores or translates."""
    variants = [token + '"><', token + ".", token + "~", token + "%00", token + "==", token + "="]
    variants += [token.replace("-", "+"), token.replace("_", "/")]
    # The last character's unused bits: another character that decodes to the same bytes.
    last = token[-1]
    variants += [token[:-1] + c for c in "AEIMQUYcgkosw048" if c != last]
    return [v for v in variants if v != token]


async def test_only_the_exact_token_opens_the_ticket(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    await seed(committed)
    async with committed() as session, session.begin():
        ticket = await Services(session).tickets.create_ticket(
            {"title": "No internet", "customer_id": 42}
        )
    tokens = TrackingTokens(SECRET)
    expires = datetime.now(UTC) + timedelta(days=1)
    # A token with both URL-safe characters, so the +/ spellings differ from it.
    token = next(
        t
        for t in (
            tokens.link(ticket.ticket_id, expires=expires + timedelta(seconds=s))
            for s in range(5000)
        )
        if "-" in t and "_" in t
    )
    async with tracking_client(committed) as client:
        opened = await client.get(f"/track/{token}")
        assert opened.status_code == 200 and "No internet" in opened.text
        for variant in spellings(token):
            refused = await client.get(f"/track/{variant}")
            assert refused.status_code == 404, variant
            assert "No internet" not in refused.text
