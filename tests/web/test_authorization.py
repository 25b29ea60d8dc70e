"""Each key role x each endpoint x own/other scope: 401 without a valid key, 404 for another
scope's record (exactly like a missing one), 403 for a role without the right."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.services import Services
from tests.web.support import ROLES, Keys, api_app, clear_keys, seed


@dataclass(frozen=True)
class World:
    client: httpx.AsyncClient
    keys: Keys
    acme_ticket: str
    # Escalated to L2, so the partner (fiberco) sees it and acme's keys do not.
    globex_ticket: str


@pytest_asyncio.fixture
async def world(
    committed: async_sessionmaker[AsyncSession], engine: object
) -> AsyncIterator[World]:
    keys = await seed(committed)
    async with committed() as session, session.begin():
        service = Services(session)
        acme = await service.tickets.create_ticket({"title": "Acme down", "customer_id": 42})
        globex = await service.tickets.create_ticket({"title": "Globex down", "customer_id": 7})
        await service.escalate(globex.ticket_id, from_level=1)
    transport = httpx.ASGITransport(app=api_app(committed))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield World(client, keys, acme.ticket_number, globex.ticket_number)
    await clear_keys(engine)  # type: ignore[arg-type]


Call = Callable[[World, dict[str, str], bool], Awaitable[httpx.Response]]


def own_ticket(w: World, role: str, own: bool) -> str:
    mine = w.globex_ticket if role == "partner_agent" else w.acme_ticket
    theirs = w.acme_ticket if role == "partner_agent" else w.globex_ticket
    return mine if own else theirs


async def create(w: World, h: dict[str, str], own: bool) -> httpx.Response:
    customer = 42 if own else 7
    return await w.client.post(
        "/api/v1/tickets", json={"title": "t", "customer_id": customer}, headers=h
    )


async def list_(w: World, h: dict[str, str], own: bool) -> httpx.Response:
    return await w.client.get("/api/v1/tickets", headers=h)


def on_ticket(method: str, suffix: str = "", body: object = None) -> Callable[[str], Call]:
    def for_role(role: str) -> Call:
        async def call(w: World, h: dict[str, str], own: bool) -> httpx.Response:
            number = own_ticket(w, role, own)
            return await w.client.request(
                method, f"/api/v1/tickets/{number}{suffix}", json=body, headers=h
            )

        return call

    return for_role


async def register(w: World, h: dict[str, str], own: bool, *, platform: bool) -> httpx.Response:
    params = {"tenant_id": "globex"} if not own else {"tenant_id": "acme"} if platform else {}
    return await w.client.post(
        "/api/v1/customers",
        json={"customer_id": 99, "email": "x@y.test"},
        headers=h,
        params=params,
    )


def endpoint(name: str, role: str) -> Call:
    if name == "create":
        return create
    if name == "list":
        return list_
    if name == "show":
        return on_ticket("GET")(role)
    if name == "share":
        return on_ticket("GET", "/share")(role)
    if name == "reply":
        return on_ticket("POST", "/messages", {"body": "looking", "public": True})(role)
    if name == "patch":
        return on_ticket("PATCH", "", {"status": "in_progress"})(role)

    async def customers(w: World, h: dict[str, str], own: bool) -> httpx.Response:
        return await register(w, h, own, platform=role == "platform")

    return customers


ENDPOINTS = ("create", "list", "show", "share", "reply", "patch", "customers")
TENANT = {"tenant_admin", "tenant_agent", "integration"}


def expected(name: str, role: str, own: bool) -> int:
    ok = {"create": 201, "list": 200, "show": 200, "share": 200, "reply": 201, "patch": 200}
    ok["customers"] = 201
    if role == "partner_agent" and name in ("create", "customers"):
        return 403
    if own or role == "platform" or name == "list":
        return ok[name]
    return 404


@pytest.mark.parametrize("own", [True, False], ids=["own", "other"])
@pytest.mark.parametrize("name", ENDPOINTS)
@pytest.mark.parametrize("role", ROLES)
async def test_role_endpoint_scope(world: World, role: str, name: str, own: bool) -> None:
    response = await endpoint(name, role)(world, world.keys.auth(role), own)
    assert response.status_code == expected(name, role, own), response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == response.status_code
        assert problem["type"] in {
            "Forbidden",
            "TicketNotFound",
            "CustomerNotFound",
            "TenantNotFound",
        }


@pytest.mark.parametrize(
    "header",
    [None, "Bearer tk_not-a-key", "Bearer ", "Basic YTpi", "REVOKED"],
    ids=["none", "unknown", "empty", "basic", "revoked"],
)
@pytest.mark.parametrize("name", ENDPOINTS)
async def test_no_valid_key_is_401(world: World, name: str, header: str | None) -> None:
    if header == "REVOKED":
        header = f"Bearer {world.keys.revoked}"
    headers = {} if header is None else {"Authorization": header}
    response = await endpoint(name, "tenant_admin")(world, headers, True)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["type"] == "Unauthorized"


@pytest.mark.parametrize("role", ROLES)
async def test_a_list_shows_only_the_keys_scope(world: World, role: str) -> None:
    response = await world.client.get("/api/v1/tickets", headers=world.keys.auth(role))
    numbers = {t["ticket_number"] for t in response.json()["items"]}
    visible = {
        "platform": {world.acme_ticket, world.globex_ticket},
        "partner_agent": {world.globex_ticket},
    }.get(role, {world.acme_ticket})
    assert numbers == visible


async def test_another_scopes_ticket_reads_exactly_like_a_missing_one(world: World) -> None:
    auth = world.keys.auth("tenant_agent")
    other = await world.client.get(f"/api/v1/tickets/{world.globex_ticket}", headers=auth)
    missing = await world.client.get("/api/v1/tickets/TKT-999999", headers=auth)
    assert other.status_code == missing.status_code == 404
    assert other.json()["type"] == missing.json()["type"] == "TicketNotFound"
    assert other.json()["field"] == missing.json()["field"] == "ticket"
    assert set(other.json()) == set(missing.json())
