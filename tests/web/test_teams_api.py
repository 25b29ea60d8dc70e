"""The team and agent endpoints: admins change, agents read, other roles and scopes refused,
problem+json for bad input, and an HTTP create that a round-robin team assigns."""

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
        transport=transport, base_url="http://api", headers=keys.auth("tenant_admin")
    ) as client:
        yield client, keys
    await clear_keys(engine)


async def noc_with_two_agents(client: httpx.AsyncClient) -> None:
    for email in ("ann@acme.test", "bob@acme.test"):
        created = await client.post("/api/v1/agents", json={"email": email, "name": "A"})
        assert created.status_code == 201, created.text
    team = await client.post(
        "/api/v1/teams", json={"name": "noc", "assignment_mode": "round_robin"}
    )
    assert team.status_code == 201, team.text
    for email in ("ann@acme.test", "bob@acme.test"):
        added = await client.put(f"/api/v1/teams/noc/members/{email}")
        assert added.status_code == 200, added.text


async def test_admin_builds_a_team_and_http_creates_are_assigned_in_turn(api: tuple) -> None:
    client, keys = api
    await noc_with_two_agents(client)
    shown = await client.get("/api/v1/teams/noc")
    assert shown.json() == {
        "tenant_id": "acme",
        "name": "noc",
        "assignment_mode": "round_robin",
        "members": ["ann@acme.test", "bob@acme.test"],
    }
    agent = keys.auth("tenant_agent")
    picked = []
    for _ in range(3):
        created = await client.post(
            "/api/v1/tickets",
            json={"title": "Down", "customer_id": 42, "assigned_team": "noc"},
            headers=agent,
        )
        assert created.status_code == 201, created.text
        picked.append(created.json()["assigned_to"])
    assert picked == ["ann@acme.test", "bob@acme.test", "ann@acme.test"]


async def test_changes_members_and_availability(api: tuple) -> None:
    client, _ = api
    await noc_with_two_agents(client)
    away = await client.patch("/api/v1/agents/bob@acme.test", json={"available": False})
    assert away.json()["available"] is False
    mode = await client.patch("/api/v1/teams/noc", json={"assignment_mode": "least_loaded"})
    assert mode.json()["assignment_mode"] == "least_loaded"
    removed = await client.delete("/api/v1/teams/noc/members/ann@acme.test")
    assert removed.json()["members"] == ["bob@acme.test"]
    assert (await client.delete("/api/v1/agents/bob@acme.test")).status_code == 204
    assert (await client.get("/api/v1/teams/noc")).json()["members"] == []
    assert (await client.delete("/api/v1/teams/noc")).status_code == 204
    assert (await client.get("/api/v1/teams")).json() == []


async def test_agents_read_and_other_roles_are_refused(api: tuple) -> None:
    client, keys = api
    await noc_with_two_agents(client)
    agent = keys.auth("tenant_agent")
    assert [t["name"] for t in (await client.get("/api/v1/teams", headers=agent)).json()] == ["noc"]
    assert len((await client.get("/api/v1/agents", headers=agent)).json()) == 2
    refused = await client.post("/api/v1/teams", json={"name": "x"}, headers=agent)
    problem(refused, 403, "Forbidden", "principal")
    partner = await client.get("/api/v1/teams", headers=keys.auth("partner_agent"))
    assert partner.status_code == 403
    no_key = await client.get("/api/v1/teams", headers={"Authorization": "Bearer nope"})
    assert no_key.status_code == 401


async def test_another_tenants_team_is_not_found(api: tuple) -> None:
    client, keys = api
    platform = keys.auth("platform")
    made = await client.post(
        "/api/v1/teams", params={"tenant_id": "globex"}, json={"name": "secret"}, headers=platform
    )
    assert made.status_code == 201, made.text
    problem(await client.get("/api/v1/teams/secret"), 404, "TeamNotFound", "team")
    problem(
        await client.get("/api/v1/teams/secret", params={"tenant_id": "globex"}),
        404,
        "TenantNotFound",
        "tenant_id",
    )
    assert (await client.get("/api/v1/teams")).json() == []
    problem(await client.get("/api/v1/teams", headers=platform), 422, "InvalidInput", "tenant_id")


async def test_bad_input_is_a_problem_naming_the_field(api: tuple) -> None:
    client, _ = api
    await noc_with_two_agents(client)
    problem(await client.post("/api/v1/teams", json={"name": "noc"}), 409, "AlreadyExists", "name")
    again = await client.post("/api/v1/agents", json={"email": "ann@acme.test", "name": "A"})
    problem(again, 409, "AlreadyExists", "email")
    problem(
        await client.post("/api/v1/teams", json={"name": "n", "assignment_mode": "random"}),
        422,
        "InvalidInput",
        "assignment_mode",
    )
    problem(
        await client.put("/api/v1/teams/noc/members/ghost@acme.test"),
        404,
        "AgentNotFound",
        "agent",
    )
    problem(await client.post("/api/v1/agents", json={"email": "x"}), 422, "InvalidInput", "email")
    problem(
        await client.post("/api/v1/teams", json={"name": "a\u0000b"}), 422, "InvalidInput", "name"
    )


async def test_an_unknown_query_parameter_is_refused_by_name(api: tuple) -> None:
    client, _ = api
    response = await client.post("/api/v1/teams", params={"tenant": "globex"}, json={"name": "n"})
    problem(response, 422, "InvalidInput", "tenant")
    assert (await client.get("/api/v1/teams")).json() == []
