"""The ticket endpoints' behaviour: create with Idempotency-Key, list filters and cursor,
timeline, replies and notes, changes, customers, and problem+json for bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
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


async def agent_and_teams(
    client: httpx.AsyncClient, keys: Keys, agent: str, teams: tuple[str, ...], tenant: str = "acme"
) -> None:
    """An agent and teams of acme, made by its admin (or globex's, with the platform key)."""
    admin = keys.auth("tenant_admin" if tenant == "acme" else "platform")
    query = "" if tenant == "acme" else f"?tenant_id={tenant}"
    made = await client.post(f"/api/v1/agents{query}", json={"email": agent}, headers=admin)
    assert made.status_code == 201, made.text
    for team in teams:
        made = await client.post(f"/api/v1/teams{query}", json={"name": team}, headers=admin)
        assert made.status_code == 201, made.text


async def test_idempotency_key_replay_returns_the_same_ticket(api: tuple) -> None:
    client, _ = api
    body = {"title": "No internet", "customer_id": 42}
    headers = {"Idempotency-Key": "portal-form-17"}
    first = await client.post("/api/v1/tickets", json=body, headers=headers)
    again = await client.post("/api/v1/tickets", json=body, headers=headers)
    other = await client.post("/api/v1/tickets", json=body)
    assert first.status_code == again.status_code == 201
    assert first.json()["ticket_number"] == again.json()["ticket_number"] == "TKT-000001"
    assert other.json()["ticket_number"] == "TKT-000002"
    assert first.json()["channel"] == "api"
    assert first.json()["tenant_id"] == "acme"


async def test_a_tenant_or_idempotency_key_in_the_body_is_refused(api: tuple) -> None:
    client, _ = api
    for field, value in (("tenant_id", "globex"), ("idempotency_key", "k")):
        response = await client.post(
            "/api/v1/tickets", json={"title": "t", "customer_id": 42, field: value}
        )
        problem(response, 422, "InvalidInput", field)


async def test_bad_input_is_a_problem_naming_the_field(api: tuple) -> None:
    client, _ = api
    cases = [
        ({"title": "a\x00b", "customer_id": 42}, "title", "InvalidInput"),
        ({"title": "t", "customer_id": "x"}, "customer_id", "InvalidCustomerId"),
        ({"title": "", "customer_id": 42}, "title", "InvalidInput"),
        ({"title": "t", "customer_id": 42, "priority": "asap"}, "priority", "InvalidInput"),
        (
            {"title": "t", "customer_id": 42, "ticket_type": "installation_request"},
            "service_address",
            "MissingServiceAddress",
        ),
    ]
    for body, field, type_ in cases:
        problem(await client.post("/api/v1/tickets", json=body), 422, type_, field)
    broken = await client.post(
        "/api/v1/tickets", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422 and broken.json()["type"] == "InvalidInput"
    missing = await client.post("/api/v1/tickets", json={"title": "t", "customer_id": 12345})
    problem(missing, 404, "CustomerNotFound", "customer_id")
    problem(await client.get("/api/v1/tickets?q=a%00b"), 422, "InvalidInput", "q")
    problem(await client.get("/api/v1/tickets?cursor=%%%"), 422, "InvalidInput", "cursor")
    problem(await client.get("/api/v1/tickets?limit=0"), 422, "InvalidInput", "limit")
    problem(await client.get("/api/v1/tickets/nonsense"), 422, "InvalidInput", "ticket")


async def test_a_body_over_the_limit_is_413(api: tuple) -> None:
    client, _ = api
    big = {"title": "t", "customer_id": 42, "description": "x" * (1024 * 1024)}
    problem(await client.post("/api/v1/tickets", json=big), 413, "PayloadTooLarge", "body")

    async def stream() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 65536

    chunked = await client.post(
        "/api/v1/tickets", content=stream(), headers={"content-type": "application/json"}
    )
    problem(chunked, 413, "PayloadTooLarge", "body")


async def test_reply_note_change_and_timeline(api: tuple) -> None:
    client, keys = api
    await agent_and_teams(client, keys, "ann@acme.test", ("noc", "l2"))
    number = await client.post("/api/v1/tickets", json={"title": "t", "customer_id": 42})
    number = number.json()["ticket_number"]
    reply = await client.post(f"/api/v1/tickets/{number}/messages", json={"body": "On it"})
    assert reply.status_code == 201 and reply.json()["first_response_at"] is not None
    note = await client.post(
        f"/api/v1/tickets/{number}/messages", json={"body": "check OLT", "public": False}
    )
    assert note.status_code == 201
    changed = await client.patch(
        f"/api/v1/tickets/{number}",
        json={
            "status": "resolved",
            "priority": "high",
            "assigned_to": "ann@acme.test",
            "assigned_team": "noc",
        },
    )
    assert changed.status_code == 200, changed.text
    t = changed.json()
    assert (t["status"], t["priority"], t["assigned_to"], t["assigned_team"]) == (
        "resolved",
        "high",
        "ann@acme.test",
        "noc",
    )
    assert t["resolved_at"] is not None
    team_only = await client.patch(f"/api/v1/tickets/{number}", json={"assigned_team": "l2"})
    assert team_only.json()["assigned_to"] == "ann@acme.test"
    problem(
        await client.patch(f"/api/v1/tickets/{number}", json={"status": "pending"}),
        409,
        "InvalidTransition",
        "status",
    )
    problem(await client.patch(f"/api/v1/tickets/{number}", json={}), 422, "InvalidInput", "body")
    detail = (await client.get(f"/api/v1/tickets/{number}")).json()
    assert [(m["body"], m["is_internal"], m["author"]) for m in detail["messages"][1:]] == [
        ("On it", False, "tenant_agent-key"),
        ("check OLT", True, "tenant_agent-key"),
    ]
    kinds = [e["kind"] for e in detail["events"]]
    assert {"created", "replied", "note_added", "status_changed", "assigned"} <= set(kinds)


async def test_list_filters_search_and_cursor(api: tuple) -> None:
    client, _ = api
    for i in range(5):
        body = {"title": f"outage {i}", "customer_id": 42, "priority": "high" if i % 2 else "low"}
        assert (await client.post("/api/v1/tickets", json=body)).status_code == 201
    page = (await client.get("/api/v1/tickets?limit=2")).json()
    seen = [t["ticket_number"] for t in page["items"]]
    while page["next_cursor"]:
        page = (
            await client.get("/api/v1/tickets", params={"limit": 2, "cursor": page["next_cursor"]})
        ).json()
        seen += [t["ticket_number"] for t in page["items"]]
    assert seen == [f"TKT-00000{n}" for n in (5, 4, 3, 2, 1)]
    high = (await client.get("/api/v1/tickets?priority=high")).json()["items"]
    assert [t["title"] for t in high] == ["outage 3", "outage 1"]
    found = (await client.get("/api/v1/tickets?q=outage 4")).json()["items"]
    assert [t["title"] for t in found] == ["outage 4"]


async def test_customers_register_under_the_keys_tenant(api: tuple) -> None:
    client, keys = api
    made = await client.post(
        "/api/v1/customers", json={"customer_id": "77", "email": "Ann@X.test", "name": "Ann"}
    )
    assert made.status_code == 201
    assert made.json() == {
        "customer_id": "77",
        "tenant_id": "acme",
        "email": "ann@x.test",
        "name": "Ann",
    }
    ticket = await client.post("/api/v1/tickets", json={"title": "t", "customer_id": 77})
    assert ticket.status_code == 201
    # globex has a customer 7 too: ids are per tenant, so acme's 7 is another customer.
    own = await client.post("/api/v1/customers", json={"customer_id": 7, "email": "a7@a.test"})
    assert own.status_code == 201 and own.json()["tenant_id"] == "acme"
    ticket = await client.post("/api/v1/tickets", json={"title": "t", "customer_id": 7})
    assert ticket.json()["tenant_id"] == "acme" and "globex" not in ticket.text


@pytest.mark.parametrize("path", ["/nowhere", "/api/v1/tickets/TKT-000001/nothing"])
async def test_unknown_paths_are_problems_too(api: tuple, path: str) -> None:
    client, _ = api
    response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_share_text_names_the_ticket_and_links_the_tracking_form(api: tuple) -> None:
    client, _ = api
    created = await client.post(
        "/api/v1/tickets", json={"title": "Router *blinks* [red](x)", "customer_id": 42}
    )
    number = created.json()["ticket_number"]
    shared = (await client.get(f"/api/v1/tickets/{number}/share")).json()
    assert number in shared["text"] and "/track" in shared["text"]
    # User text cannot become Markdown links or emphasis in what the agent pastes.
    assert "[red](x)" not in shared["markdown"] and "*blinks*" not in shared["markdown"]


async def test_an_unknown_query_parameter_is_refused_by_name(api: tuple) -> None:
    client, _ = api
    problem(await client.get("/api/v1/tickets?stauts=open"), 422, "InvalidInput", "stauts")
    assert (await client.get("/api/v1/tickets?status=open")).status_code == 200
    # One value each: a second `status` would otherwise silently win over the first.
    twice = await client.get("/api/v1/tickets?status=open&status=closed")
    problem(twice, 422, "InvalidInput", "status")
    problem(await client.get("/api/v1/tickets?q="), 422, "InvalidInput", "q")


async def test_a_nul_character_anywhere_in_a_request_is_refused_by_name(api: tuple) -> None:
    # PostgreSQL text cannot hold NUL. A query value once reached the database with one and came
    # back as a 503 "database unavailable" (schemathesis: `GET /tenants?after=...%00`).
    client, keys = api
    platform = keys.auth("platform")
    problem(await client.get("/api/v1/tickets?cursor=%00"), 422, "InvalidInput", "cursor")
    after = await client.get("/api/v1/tenants?after=x%00", headers=platform)
    problem(after, 422, "InvalidInput", "after")
    body = {"customer_id": 42, "title": "no service", "description": "down"}
    keyed = {"Idempotency-Key": "k\x00"}
    replayed = await client.post("/api/v1/tickets", json=body, headers=keyed)
    problem(replayed, 422, "InvalidInput", "idempotency_key")
    problem(await client.get("/api/v1/tickets/TKT-%00"), 422, "InvalidInput", "ticket")


async def test_an_idempotency_key_with_another_body_is_refused_and_a_retry_is_not(
    api: tuple,
) -> None:
    client, _ = api
    key = {"Idempotency-Key": "portal-form-9"}
    first = await client.post(
        "/api/v1/tickets", json={"title": "No internet", "customer_id": 42}, headers=key
    )
    assert first.status_code == 201, first.text
    # The same request, spelled differently (key order, a default written out): a retry.
    retry = await client.post(
        "/api/v1/tickets",
        json={"priority": "normal", "customer_id": "42", "title": "No internet"},
        headers=key,
    )
    assert retry.status_code == 201
    assert retry.json()["ticket_number"] == first.json()["ticket_number"]
    other = await client.post(
        "/api/v1/tickets", json={"title": "Slow internet", "customer_id": 42}, headers=key
    )
    problem(other, 422, "IdempotencyKeyReused", "Idempotency-Key")
    listed = (await client.get("/api/v1/tickets")).json()["items"]
    assert [t["title"] for t in listed] == ["No internet"]


async def test_assignees_must_be_an_agent_or_team_of_the_callers_tenant(api: tuple) -> None:
    client, keys = api
    await agent_and_teams(client, keys, "ann@acme.test", ("noc",))
    await agent_and_teams(client, keys, "gina@globex.test", ("globex-noc",), tenant="globex")
    for team in ("globex-noc", "nobody"):
        refused = await client.post(
            "/api/v1/tickets", json={"title": "t", "customer_id": 42, "assigned_team": team}
        )
        problem(refused, 422, "UnknownAssignee", "assigned_team")
    created = await client.post(
        "/api/v1/tickets", json={"title": "t", "customer_id": 42, "assigned_team": "noc"}
    )
    assert created.status_code == 201, created.text
    number = created.json()["ticket_number"]
    for field, value in (
        ("assigned_to", "gina@globex.test"),
        ("assigned_to", "ghost@nowhere.test"),
        ("assigned_team", "globex-noc"),
        ("assigned_team", "nobody"),
    ):
        refused = await client.patch(f"/api/v1/tickets/{number}", json={field: value})
        problem(refused, 422, "UnknownAssignee", field)
    unchanged = (await client.get(f"/api/v1/tickets/{number}")).json()["ticket"]
    assert (unchanged["assigned_to"], unchanged["assigned_team"]) == (None, "noc")
    assigned = await client.patch(
        f"/api/v1/tickets/{number}", json={"assigned_to": "ann@acme.test"}
    )
    assert assigned.status_code == 200 and assigned.json()["assigned_to"] == "ann@acme.test"


async def test_every_api_answer_carries_no_store_and_nosniff(api: tuple) -> None:
    client, _ = api
    created = await client.post("/api/v1/tickets", json={"title": "t", "customer_id": 42})
    answers = [
        created,
        await client.get("/api/v1/tickets"),
        await client.get(f"/api/v1/tickets/{created.json()['ticket_number']}"),
        await client.get("/api/v1/tickets", headers={"Authorization": ""}),  # 401
        await client.get("/api/v1/tickets/TKT-999999"),  # 404
        await client.post("/api/v1/tickets", json={"title": ""}),  # 422
        await client.post("/api/v1/tickets", content=b"x" * (2 << 20)),  # 413
        await client.get("/openapi.json"),
    ]
    assert [a.status_code for a in answers] == [201, 200, 200, 401, 404, 422, 413, 200]
    for answer in answers:
        assert answer.headers["cache-control"] == "no-store", answer.request.url
        assert answer.headers["x-content-type-options"] == "nosniff", answer.request.url


async def test_error_messages_say_what_was_wrong(api: tuple) -> None:
    client, keys = api
    unknown = await client.get("/api/v1/tickets", params={"stauts": "open"})
    problem(unknown, 422, "InvalidInput", "stauts")
    assert unknown.json()["detail"] == "stauts: is not a parameter of this operation"
    nul = await client.get("/api/v1/tickets?q=a%00b")
    problem(nul, 422, "InvalidInput", "q")
    assert "None" not in nul.json()["detail"] and "\\x00" in nul.json()["detail"]
    # Another tenant named by a tenant key: that tenant is not found (not "no team 'acme'").
    globex = await client.get(
        "/api/v1/teams", params={"tenant_id": "globex"}, headers=keys.auth("tenant_admin")
    )
    problem(globex, 404, "TenantNotFound", "tenant_id")
    assert "team" not in globex.json()["detail"]
    # Every method the path takes, though GET and POST are two routes.
    options = await client.options("/api/v1/tickets")
    assert options.status_code == 405
    assert {m.strip() for m in options.headers["allow"].split(",")} >= {"GET", "POST"}


async def test_a_caller_without_a_key_learns_no_parameter_names(api: tuple) -> None:
    client, _ = api
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer tk_not-a-key"}):
        answer = await client.get("/api/v1/tickets", params={"stauts": "open"}, headers=headers)
        problem(answer, 401, "Unauthorized", None)
        assert "stauts" not in answer.text
