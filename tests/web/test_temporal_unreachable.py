"""The API while Temporal cannot be reached: a create whose watcher cannot start is answered
503 problem+json with Retry-After (not a bare 500), nothing is doubled, and the client's retry
with the same Idempotency-Key, once Temporal is back, gets the ticket and its watcher."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.web.support import api_app, clear_keys, problem, seed
from ticketing.runtime.settings import Settings
from ticketing.temporal.client import connect_client
from ticketing.temporal.watchers import TemporalWatchers, escalation_workflow_id
from ticketing_ops.devstack import TemporalDevServer, find_free_port


async def test_a_create_while_temporal_is_down_is_a_503_and_its_retry_lands_once(
    committed: async_sessionmaker[AsyncSession], engine: AsyncEngine, tmp_path: Path
) -> None:
    keys = await seed(committed)
    port = find_free_port()
    # Connects on its first call, as `ticketing api` does; nothing listens on the port yet.
    client = await connect_client(Settings(), target_host=f"127.0.0.1:{port}", lazy=True)
    watchers = TemporalWatchers(client, "temporal-down-tests")
    transport = httpx.ASGITransport(app=api_app(committed, watchers))
    body = {"title": "No internet", "customer_id": 42}
    headers = {**keys.auth("tenant_agent"), "Idempotency-Key": "form-temporal-down"}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as api:
            down = await api.post("/api/v1/tickets", json=body, headers=headers)
            problem(down, 503, "ServiceUnavailable", None)
            assert down.headers["retry-after"] == "5"
            async with TemporalDevServer(
                tmp_path / "temporal", port=port, ui_port=find_free_port(), headless=True
            ):
                up = await api.post("/api/v1/tickets", json=body, headers=headers)
                assert up.status_code == 201, up.text
                number = up.json()["ticket_number"]
                described = await client.get_workflow_handle(
                    escalation_workflow_id(number)
                ).describe()
                assert described.id == escalation_workflow_id(number)
        async with engine.connect() as connection:
            tickets = (await connection.execute(text("SELECT count(*) FROM tickets"))).scalar()
        assert tickets == 1
    finally:
        await clear_keys(engine)
