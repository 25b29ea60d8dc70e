"""Request timeouts: a handler still running past the app's bound is answered 503
problem+json with Retry-After, and the app keeps serving."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.notifications.mailer import Notifier
from ticketing.notifications.service import DirectDelivery
from ticketing.runtime.settings import Settings
from ticketing.tickets.ports import NoWatchers
from ticketing.web.app import create_app
from ticketing.web.deps import ApiPorts
from ticketing.web.timeouts import RequestTimeout


async def test_a_handler_past_the_bound_is_a_503_problem(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    ports = ApiPorts(committed, NoWatchers(), DirectDelivery(committed, Notifier()))
    app = create_app(ports, request_timeout=0.05)
    never = asyncio.Event()

    async def stuck() -> dict[str, str]:
        # Waits on an event nobody sets: only the timeout can end this request.
        await never.wait()
        return {}

    app.add_api_route("/stuck", stuck)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        response = await client.get("/stuck")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "1"
        assert response.json()["type"] == "ServiceUnavailable"
        # Requests that finish in time are untouched.
        assert (await client.get("/openapi.json")).status_code == 200


def test_the_bound_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETING_API_TIMEOUT", "2.5")
    assert Settings().api_timeout == 2.5
    with pytest.raises(ValueError, match="positive"):
        RequestTimeout(create_app(ApiPorts(None, NoWatchers(), None)), seconds=0)  # type: ignore[arg-type]
