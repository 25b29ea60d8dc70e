"""The support manager's ticket changes over HTTP: PATCH `ticket_type`, POST `…/merge`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.web.support import Keys, api_app, clear_keys, problem, seed


@pytest_asyncio.fixture
async def api(
    committed: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> AsyncIterator[tuple[httpx.AsyncClient, Keys]]:
    keys = await seed(committed)
    transport = httpx.ASGITransport(app=api_app(committed))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api", headers=keys.auth("tenant_agent")
    ) as client:
        yield client, keys
    await clear_keys(engine)


async def new_ticket(client: httpx.AsyncClient, **fields: object) -> dict[str, object]:
    created = await client.post("/api/v1/tickets", json={"title": "t", "customer_id": 42, **fields})
    assert created.status_code == 201, created.text
    body: dict[str, object] = created.json()
    return body


async def test_patch_ticket_type_retargets_and_shows_in_the_timeline(api: tuple) -> None:
    client, _ = api
    ticket = await new_ticket(client)
    number = ticket["ticket_number"]
    changed = await client.patch(f"/api/v1/tickets/{number}", json={"ticket_type": "outage_report"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["ticket_type"] == "outage_report"
    # The built-in policy answers outage reports within the hour, not in 8 business hours.
    assert changed.json()["first_response_due"] < ticket["first_response_due"]  # type: ignore[operator]
    problem(
        await client.patch(f"/api/v1/tickets/{number}", json={"ticket_type": "fault"}),
        422,
        "InvalidInput",
        "ticket_type",
    )
    detail = (await client.get(f"/api/v1/tickets/{number}")).json()
    retyped = [e for e in detail["events"] if e["kind"] == "type_changed"]
    assert [e["data"] for e in retyped] == [{"from": "general_inquiry", "to": "outage_report"}]


async def test_post_merge_is_idempotent_scoped_and_names_into(api: tuple) -> None:
    client, keys = api
    survivor = await new_ticket(client, title="By mail")
    duplicate = await new_ticket(client, title="By chat")
    url = f"/api/v1/tickets/{duplicate['ticket_number']}/merge"
    merged = await client.post(url, json={"into": survivor["ticket_number"]})
    assert merged.status_code == 200, merged.text
    body = merged.json()
    assert (body["merged_now"], body["ticket"]["status"], body["into"]["ticket_number"]) == (
        True,
        "closed",
        survivor["ticket_number"],
    )
    again = await client.post(url, json={"into": survivor["ticket_number"]})
    assert again.status_code == 200 and again.json()["merged_now"] is False
    problem(await client.post(url, json={"into": "TKT-999999"}), 404, "TicketNotFound", "into")
    problem(await client.post(url, json={}), 422, "InvalidInput", "into")
    other = await new_ticket(client)
    problem(
        await client.post(
            f"/api/v1/tickets/{other['ticket_number']}/merge",
            json={"into": other["ticket_number"]},
        ),
        409,
        "CannotMerge",
        "into",
    )
    # Another tenant's key sees neither ticket.
    outsider = await client.post(
        url, json={"into": survivor["ticket_number"]}, headers=keys.auth("partner_agent")
    )
    assert outsider.status_code == 404
