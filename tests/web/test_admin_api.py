"""Admin endpoints: partners, tenants, customers and SLA policies, each role x own/other
tenant, and a policy edit through the API re-targeting open tickets and waking watchers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.services import Services
from tests.web.support import ROLES, Keys, api_app, clear_keys, seed
from ticketing.tickets.schemas import TicketInfo

POLICY = {
    "version": 1,
    "targets": {
        p: {"first_response_seconds": 600, "resolution_seconds": 7200}
        for p in ("low", "normal", "high", "urgent")
    },
}


@dataclass
class RecordingWatchers:
    woken: list[str] = field(default_factory=list)

    async def ensure(self, ticket: TicketInfo) -> None:
        return None

    async def wake(self, ticket: TicketInfo) -> None:
        self.woken.append(ticket.ticket_number)


@dataclass(frozen=True)
class World:
    client: httpx.AsyncClient
    keys: Keys
    watchers: RecordingWatchers
    acme_ticket: TicketInfo


@pytest_asyncio.fixture
async def world(
    committed: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> AsyncIterator[World]:
    keys = await seed(committed)
    async with committed() as session, session.begin():
        ticket = await Services(session).tickets.create_ticket(
            {"title": "Acme down", "customer_id": 42}
        )
    watchers = RecordingWatchers()
    transport = httpx.ASGITransport(app=api_app(committed, watchers))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield World(client, keys, watchers, ticket)
    await clear_keys(engine)


Call = Callable[[httpx.AsyncClient, dict[str, str], str], Awaitable[httpx.Response]]


def call(method: str, path: str, body: object = None) -> Call:
    async def run(client: httpx.AsyncClient, headers: dict[str, str], tenant: str):  # type: ignore[no-untyped-def]
        return await client.request(
            method, "/api/v1" + path.format(t=tenant), json=body, headers=headers
        )

    return run


CALLS: dict[str, Call] = {
    "partners": call("GET", "/partners"),
    "put_partner": call("PUT", "/partners/newco", {"name": "NewCo"}),
    "tenants": call("GET", "/tenants"),
    "tenant": call("GET", "/tenants/{t}"),
    "put_tenant": call("PUT", "/tenants/{t}", {"support_email": "help@x.test"}),
    "customers": call("GET", "/tenants/{t}/customers"),
    "customer": call("GET", "/tenants/{t}/customers/42"),
    "put_customer": call("PUT", "/tenants/{t}/customers/77", {"email": "c@x.test"}),
    "policy": call("GET", "/tenants/{t}/sla-policy"),
    "put_policy": call("PUT", "/tenants/{t}/sla-policy", POLICY),
}
TENANT = {"tenant_admin", "tenant_agent", "integration"}
# Endpoints about no one tenant: the same answer for "own" and "other".
GLOBAL = {"partners", "put_partner", "tenants"}


def expected(name: str, role: str, own: bool) -> int:
    if role == "platform":
        return 200
    if name in ("partners", "put_partner"):
        return 403
    if role == "partner_agent":
        # Policies are read by the SLA service, which reports any foreign tenant as missing.
        return 404 if name == "policy" else 403
    if name == "put_tenant" and role != "tenant_admin":
        return 403
    if name == "put_policy" and role != "tenant_admin":
        return 403
    if name == "policy" and role == "integration":
        return 404
    if name in GLOBAL:
        return 200
    return 200 if own else 404


@pytest.mark.parametrize("own", [True, False], ids=["own", "other"])
@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("role", ROLES)
async def test_admin_role_endpoint_scope(world: World, role: str, name: str, own: bool) -> None:
    tenant = "acme" if own else "globex"
    customer = "42" if own else "7"
    run = CALLS[name]
    if name == "customer":
        run = call("GET", f"/tenants/{{t}}/customers/{customer}")
    response = await run(world.client, world.keys.auth(role), tenant)
    assert response.status_code == expected(name, role, own), response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] in {"Forbidden", "TenantNotFound"}


@pytest.mark.parametrize("name", list(CALLS))
async def test_admin_endpoints_need_a_key(world: World, name: str) -> None:
    response = await CALLS[name](world.client, {}, "acme")
    assert response.status_code == 401
    assert response.json()["type"] == "Unauthorized"


async def test_tenant_listing_is_scoped(world: World) -> None:
    platform = await world.client.get("/api/v1/tenants", headers=world.keys.auth("platform"))
    agent = await world.client.get("/api/v1/tenants", headers=world.keys.auth("tenant_agent"))
    assert [t["tenant_id"] for t in platform.json()] == ["acme", "globex"]
    assert [t["tenant_id"] for t in agent.json()] == ["acme"]
    assert platform.json()[1]["partner_id"] == "fiberco"


async def test_platform_creates_a_tenant_under_a_partner_with_a_zone(world: World) -> None:
    auth = world.keys.auth("platform")
    body = {"partner_id": "fiberco", "timezone": "Europe/Berlin", "support_email": "s@n.test"}
    created = await world.client.put("/api/v1/tenants/newt", json=body, headers=auth)
    assert created.status_code == 200, created.text
    shown = (await world.client.get("/api/v1/tenants/newt", headers=auth)).json()
    assert shown == {
        "tenant_id": "newt",
        "name": "newt",
        "partner_id": "fiberco",
        "support_email": "s@n.test",
        "timezone": "Europe/Berlin",
        "public_tags": [],
    }
    bad = await world.client.put(
        "/api/v1/tenants/newt", json={"timezone": "Mars/Base"}, headers=auth
    )
    assert bad.status_code == 422 and bad.json()["field"] == "timezone"


async def test_a_tenant_admin_marks_which_outage_tags_the_status_page_shows(world: World) -> None:
    auth = world.keys.auth("tenant_admin")
    put = await world.client.put(
        "/api/v1/tenants/acme", json={"public_tags": ["postcode:", "olt:berlin-7"]}, headers=auth
    )
    assert put.status_code == 200, put.text
    assert put.json()["public_tags"] == ["olt:berlin-7", "postcode:"]
    # Absent keeps the set; a change of another field leaves it alone.
    await world.client.put("/api/v1/tenants/acme", json={"name": "Acme"}, headers=auth)
    shown = (await world.client.get("/api/v1/tenants/acme", headers=auth)).json()
    assert shown["public_tags"] == ["olt:berlin-7", "postcode:"]
    bad = await world.client.put(
        "/api/v1/tenants/acme", json={"public_tags": ["olt berlin"]}, headers=auth
    )
    assert bad.status_code == 422 and bad.json()["field"].startswith("public_tags"), bad.text
    cleared = await world.client.put("/api/v1/tenants/acme", json={"public_tags": []}, headers=auth)
    assert cleared.json()["public_tags"] == []


async def test_a_tenant_admin_cannot_move_its_tenant_to_a_partner(world: World) -> None:
    response = await world.client.put(
        "/api/v1/tenants/acme",
        json={"partner_id": "fiberco"},
        headers=world.keys.auth("tenant_admin"),
    )
    assert response.status_code == 403


async def test_customer_upsert_then_read_and_list(world: World) -> None:
    auth = world.keys.auth("tenant_admin")
    put = await world.client.put(
        "/api/v1/tenants/acme/customers/0099",
        json={"email": "c@acme.test", "name": "Carla", "plan": "gold"},
        headers=auth,
    )
    assert put.status_code == 200, put.text
    assert put.json()["customer_id"] == "99"
    got = await world.client.get("/api/v1/tenants/acme/customers/99", headers=auth)
    assert got.json() == put.json()
    listed = await world.client.get("/api/v1/tenants/acme/customers", headers=auth)
    assert [c["customer_id"] for c in listed.json()] == ["42", "99"]
    missing = await world.client.get("/api/v1/tenants/acme/customers/5", headers=auth)
    assert missing.status_code == 404 and missing.json()["type"] == "CustomerNotFound"
    bad = await world.client.get("/api/v1/tenants/acme/customers/abc", headers=auth)
    assert bad.status_code == 422 and bad.json()["field"] == "customer_id"


async def test_policy_put_retargets_open_tickets_and_wakes_their_watchers(world: World) -> None:
    auth = world.keys.auth("tenant_admin")
    put = await world.client.put("/api/v1/tenants/acme/sla-policy", json=POLICY, headers=auth)
    assert put.status_code == 200, put.text
    assert world.watchers.woken == [world.acme_ticket.ticket_number]
    shown = await world.client.get(
        f"/api/v1/tickets/{world.acme_ticket.ticket_number}", headers=auth
    )
    ticket = shown.json()["ticket"]
    created = TicketInfo.model_validate(ticket).created_at
    due = TicketInfo.model_validate(ticket).first_response_due
    assert due is not None and (due - created).total_seconds() == pytest.approx(600, abs=5)
    again = await world.client.get("/api/v1/tenants/acme/sla-policy", headers=auth)
    assert again.json() == put.json()
    assert again.json()["targets"]["low"]["first_response_seconds"] == 600


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"version": 1, "targets": {"low": {"first_response_seconds": "soon"}}}, "targets.low"),
        (
            {"version": 1, "calendar": {"timezone": "UTC", "hours": {"mon": [{"start": "9"}]}}},
            "calendar.hours.mon[0]",
        ),
        ({**POLICY, "surprise": True}, "surprise"),
    ],
)
async def test_a_bad_policy_names_its_json_path(
    world: World, document: dict[str, object], path: str
) -> None:
    response = await world.client.put(
        "/api/v1/tenants/acme/sla-policy", json=document, headers=world.keys.auth("platform")
    )
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "InvalidInput"
    assert response.json()["field"].startswith(path)
    assert world.watchers.woken == []


async def test_tenant_put_with_a_new_zone_moves_open_tickets_and_wakes_their_watchers(
    world: World,
) -> None:
    # Business hours make the due time depend on the zone: 09:00-17:00 in UTC and in
    # Pacific/Kiritimati (UTC+14) never overlap, so the same hour of business time ends at
    # another instant.
    day = [{"start": "09:00", "end": "17:00"}]
    hours = {d: day for d in ("mon", "tue", "wed", "thu", "fri")}
    business = {**POLICY, "calendar": {"timezone": "UTC", "hours": hours}}
    auth = world.keys.auth("tenant_admin")
    put = await world.client.put("/api/v1/tenants/acme/sla-policy", json=business, headers=auth)
    assert put.status_code == 200, put.text
    path = f"/api/v1/tickets/{world.acme_ticket.ticket_number}"
    before = (await world.client.get(path, headers=auth)).json()["ticket"]["first_response_due"]
    world.watchers.woken.clear()

    moved = await world.client.put(
        "/api/v1/tenants/acme", json={"timezone": "Pacific/Kiritimati"}, headers=auth
    )

    assert moved.status_code == 200, moved.text
    assert moved.json()["timezone"] == "Pacific/Kiritimati"
    after = (await world.client.get(path, headers=auth)).json()["ticket"]["first_response_due"]
    assert after != before
    assert world.watchers.woken == [world.acme_ticket.ticket_number]


async def test_tenant_put_without_a_new_zone_wakes_no_watcher(world: World) -> None:
    auth = world.keys.auth("tenant_admin")
    put = await world.client.put(
        "/api/v1/tenants/acme", json={"support_email": "desk@acme.test"}, headers=auth
    )
    assert put.status_code == 200, put.text
    assert world.watchers.woken == []
