"""The chat endpoints: verified customer identity, cards only for the customer's own ticket
numbers, chat tickets with Idempotency-Key, and customer replies."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.services import Services
from tests.web.support import Keys, clear_keys, problem, seed
from ticketing.auth.chat_identity import find_integration, identity_secret
from ticketing.auth.signed_links import TrackingTokens
from ticketing.notifications.mailer import Notifier
from ticketing.notifications.service import DirectDelivery
from ticketing.tickets.chat import first_line_title, ticket_numbers
from ticketing.tickets.ports import NoWatchers
from ticketing.web.app import create_app
from ticketing.web.deps import ApiPorts
from ticketing.web.tracking import TrackingConfig

SECRET = b"chat-test-server-secret-0123456789abcdefghij"
CARD_FIELDS = {
    "ticket_number",
    "title",
    "status",
    "status_label",
    "priority",
    "ticket_type",
    "created_at",
    "updated_at",
    "resolved_at",
    "tracking_url",
}


@dataclass(frozen=True)
class Chat:
    client: httpx.AsyncClient
    keys: Keys
    secret: str
    sessions: async_sessionmaker[AsyncSession]

    def identity(self, customer_id: str, secret: str | None = None) -> dict[str, str]:
        # Computed the way an integrator's server does it, independently of the product code.
        key = (secret or self.secret).encode()
        signature = hmac.new(key, customer_id.encode(), hashlib.sha256).hexdigest()
        return {"customer_id": customer_id, "customer_signature": signature}

    async def post(
        self, path: str, body: dict[str, str], role: str = "integration", **headers: str
    ) -> httpx.Response:
        return await self.client.post(
            f"/api/v1/chat/{path}", json=body, headers={**self.keys.auth(role), **headers}
        )


@pytest_asyncio.fixture
async def chat(
    committed: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> AsyncIterator[Chat]:
    keys = await seed(committed)
    async with committed() as session, session.begin():
        service = Services(session)
        await service.tenants.upsert_customer(
            tenant_id="acme", customer_id="43", email="joe@a.test"
        )
        # Same customer id as acme's Jane, in another tenant.
        await service.tenants.upsert_customer(
            tenant_id="globex", customer_id="42", email="g@g.test"
        )
    async with committed() as session:
        _, integration = await find_integration(session, keys.by_role["integration"])
    assert integration is not None
    ports = ApiPorts(committed, NoWatchers(), DirectDelivery(committed, Notifier()))
    app = create_app(ports, tracking=TrackingConfig(TrackingTokens(SECRET)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield Chat(client, keys, identity_secret(SECRET, integration.key_id), committed)
    await clear_keys(engine)


async def open_ticket(chat: Chat, tenant: str, customer: str, title: str) -> str:
    async with chat.sessions() as session, session.begin():
        ticket = (
            await Services(session)
            .for_tenant(tenant)
            .tickets.create_ticket({"title": title, "customer_id": customer})
        )
    return ticket.ticket_number


def test_numbers_are_distinct_in_order_any_case_at_most_ten() -> None:
    text = "tkt-000002, TKT-000001 and Tkt-0000002 again; xTKT-000009 TKT-12345 TKT-" + "9" * 30
    assert ticket_numbers(text) == ["TKT-000002", "TKT-000001"]
    many = " ".join(f"TKT-{n:06d}" for n in range(1, 30))
    assert ticket_numbers(many) == [f"TKT-{n:06d}" for n in range(1, 11)]
    assert ticket_numbers("TKT-1234567") == ["TKT-1234567"]
    assert first_line_title("\n  Router   dead \nsince Monday") == "Router dead"
    assert len(first_line_title("x" * 500)) == 200


async def test_cards_only_for_the_customers_own_numbers(chat: Chat) -> None:
    mine = await open_ticket(chat, "acme", "42", "No internet")
    second = await open_ticket(chat, "acme", "42", "Slow line")
    neighbour = await open_ticket(chat, "acme", "43", "Neighbour's ticket")
    other_tenant = await open_ticket(chat, "globex", "42", "Globex's customer 42")
    async with chat.sessions() as session, session.begin():
        await (
            Services(session)
            .for_tenant("acme")
            .tickets.add_message(mine, body="secret internal remark", is_internal=True)
        )
    text = (
        f"about {neighbour} and {mine.lower()}, also {other_tenant}, TKT-999999, "
        f"{mine} again and {second}"
    )
    response = await chat.post("lookup", {"text": text, **chat.identity("42")})
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert [c["ticket_number"] for c in cards] == [mine, second]
    assert all(set(c) == CARD_FIELDS for c in cards)
    assert (cards[0]["title"], cards[0]["status"], cards[0]["resolved_at"]) == (
        "No internet",
        "open",
        None,
    )
    assert "secret internal remark" not in response.text
    token = cards[0]["tracking_url"].rsplit("/track/", 1)[1]
    async with chat.sessions() as session:
        own = await Services(session).for_tenant("acme").tickets.get_ticket(mine)
    assert TrackingTokens(SECRET).open_link(token) == own.ticket_id

    # The neighbour, signed for, sees only theirs; nobody's numbers give nothing.
    theirs = await chat.post("lookup", {"text": text, **chat.identity("43")})
    assert [c["ticket_number"] for c in theirs.json()["cards"]] == [neighbour]
    nothing = await chat.post("lookup", {"text": "hello, no numbers", **chat.identity("42")})
    assert nothing.json() == {"cards": []}


async def test_a_bad_signature_is_403_the_same_for_an_unknown_customer(chat: Chat) -> None:
    forged = chat.identity("42", secret="not-the-identity-secret")
    known = await chat.post("lookup", {"text": "TKT-000001", **forged})
    problem(known, 403, "BadCustomerSignature", "customer_signature")
    unknown_id = {**chat.identity("999", secret="guess"), "text": "TKT-000001"}
    unknown = await chat.post("lookup", unknown_id)
    problem(unknown, 403, "BadCustomerSignature", "customer_signature")
    assert known.json() == unknown.json()
    # A genuine signature of another id does not cover this one.
    swapped = {**chat.identity("43"), "customer_id": "42", "text": "hi"}
    problem(await chat.post("lookup", swapped), 403, "BadCustomerSignature", "customer_signature")
    for path, extra in (("tickets", {}), ("messages", {"ticket_number": "TKT-000001"})):
        body = {**forged, **extra, "message": "m"}
        problem(await chat.post(path, body), 403, "BadCustomerSignature", "customer_signature")


@pytest.mark.parametrize("role", ["platform", "tenant_admin", "tenant_agent", "partner_agent"])
async def test_other_roles_are_403(chat: Chat, role: str) -> None:
    bodies = {
        "lookup": {"text": "TKT-000001", **chat.identity("42")},
        "tickets": {"message": "hello", **chat.identity("42")},
        "messages": {"message": "hello", "ticket_number": "TKT-000001", **chat.identity("42")},
    }
    for path, body in bodies.items():
        problem(await chat.post(path, body, role=role), 403, "Forbidden", "principal")


async def test_no_unknown_or_revoked_key_is_401(chat: Chat) -> None:
    body = {"text": "TKT-000001", **chat.identity("42")}
    bare = await chat.client.post("/api/v1/chat/lookup", json=body)
    problem(bare, 401, "Unauthorized", None)
    assert bare.headers["www-authenticate"] == "Bearer"
    for key in ("tk_not-a-key", chat.keys.revoked):
        response = await chat.client.post(
            "/api/v1/chat/lookup", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        problem(response, 401, "Unauthorized", None)


async def test_text_too_long_or_empty_is_422_naming_text(chat: Chat) -> None:
    for text in ("x" * 4001, ""):
        response = await chat.post("lookup", {"text": text, **chat.identity("42")})
        problem(response, 422, "InvalidInput", "text")
    edge = await chat.post("lookup", {"text": "x" * 4000, **chat.identity("42")})
    assert edge.status_code == 200


async def test_a_chat_ticket_is_channel_chat_and_a_retry_is_the_same(chat: Chat) -> None:
    body = {"message": "My router is dead\nsince Monday", **chat.identity("42")}
    first = await chat.post("tickets", body, **{"Idempotency-Key": "conv-1"})
    again = await chat.post("tickets", body, **{"Idempotency-Key": "conv-1"})
    assert first.status_code == again.status_code == 201, first.text
    assert set(first.json()) == CARD_FIELDS
    number = first.json()["ticket_number"]
    assert again.json()["ticket_number"] == number
    assert first.json()["title"] == "My router is dead"
    # The same conversation key from another customer is that customer's own ticket.
    other = await chat.post(
        "tickets", {**body, **chat.identity("43")}, **{"Idempotency-Key": "conv-1"}
    )
    assert other.status_code == 201 and other.json()["ticket_number"] != number
    titled = await chat.post("tickets", {**body, "title": "Router"})
    assert titled.json()["title"] == "Router"
    shown = await chat.client.get(f"/api/v1/tickets/{number}", headers=chat.keys.auth("platform"))
    ticket = shown.json()["ticket"]
    assert (ticket["channel"], ticket["customer_id"], ticket["tenant_id"]) == ("chat", "42", "acme")
    assert ticket["description"] == "My router is dead\nsince Monday"
    # Made through the ticket flows: its created notice to the customer is queued.
    assert any(n["recipient"] == "jane@a.test" for n in shown.json()["notifications"])


async def test_a_chat_ticket_for_an_unknown_customer_names_customer_id(chat: Chat) -> None:
    response = await chat.post("tickets", {"message": "hi", **chat.identity("77")})
    problem(response, 404, "CustomerNotFound", "customer_id")


async def test_a_reply_is_a_public_customer_message_that_ends_a_wait(chat: Chat) -> None:
    number = await open_ticket(chat, "acme", "42", "No internet")
    agent = chat.keys.auth("tenant_agent")
    await chat.client.patch(f"/api/v1/tickets/{number}", json={"status": "pending"}, headers=agent)
    body = {"ticket_number": number, "message": "It works again", **chat.identity("42")}
    response = await chat.post("messages", body)
    assert response.status_code == 201, response.text
    assert response.json()["ticket_number"] == number
    assert response.json()["status"] != "pending"
    detail = (await chat.client.get(f"/api/v1/tickets/{number}", headers=agent)).json()
    last = detail["messages"][-1]
    assert (last["body"], last["author_actor"], last["is_internal"]) == (
        "It works again",
        "customer",
        False,
    )
    assert detail["ticket"]["status"] != "pending"


async def test_a_reply_to_someone_elses_ticket_is_404_like_a_missing_one(chat: Chat) -> None:
    neighbour = await open_ticket(chat, "acme", "43", "Neighbour's ticket")
    other_tenant = await open_ticket(chat, "globex", "42", "Globex's customer 42")
    responses = []
    for number in (neighbour, other_tenant, "TKT-999999"):
        body = {"ticket_number": number, "message": "mine?", **chat.identity("42")}
        response = await chat.post("messages", body)
        problem(response, 404, "TicketNotFound", "ticket")
        responses.append(response.json())
    assert len({(r["title"], r["status"], r["type"], r["field"]) for r in responses}) == 1
    agent = chat.keys.auth("tenant_agent")
    detail = (await chat.client.get(f"/api/v1/tickets/{neighbour}", headers=agent)).json()
    assert all(m["body"] != "mine?" for m in detail["messages"])


async def test_an_integration_key_over_http_comes_with_its_identity_secret(chat: Chat) -> None:
    response = await chat.client.post(
        "/api/v1/api-keys", json={"role": "integration"}, headers=chat.keys.auth("tenant_admin")
    )
    assert response.status_code == 201, response.text
    issued = response.json()
    assert issued["identity_secret"] == identity_secret(SECRET, uuid.UUID(issued["key_id"]))
    # The new key's own secret verifies for it; the first key's does not.
    new_key = {"Authorization": f"Bearer {issued['key']}"}
    body = {"text": "hi", **chat.identity("42", secret=issued["identity_secret"])}
    ok = await chat.client.post("/api/v1/chat/lookup", json=body, headers=new_key)
    assert ok.status_code == 200, ok.text
    crossed = {"text": "hi", **chat.identity("42")}
    refused = await chat.client.post("/api/v1/chat/lookup", json=crossed, headers=new_key)
    problem(refused, 403, "BadCustomerSignature", "customer_signature")
    agent_key = await chat.client.post(
        "/api/v1/api-keys", json={"role": "tenant_agent"}, headers=chat.keys.auth("tenant_admin")
    )
    assert agent_key.json()["identity_secret"] is None


def test_the_cli_derives_the_same_secret_from_the_server_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ticketing_ops.cli.apikeys import chat_identity_secret

    key_id = uuid.uuid4()
    monkeypatch.setenv("TICKETING_SECRET_KEY", SECRET.decode())
    assert chat_identity_secret(key_id) == identity_secret(SECRET, key_id)
    monkeypatch.delenv("TICKETING_SECRET_KEY")
    monkeypatch.setenv("TICKETING_DATABASE_URL", "postgresql+asyncpg://u@h/db")
    assert chat_identity_secret(key_id) is None


async def test_only_a_canonical_customer_id_is_accepted_before_its_signature(chat: Chat) -> None:
    """A signature over "042" or " 42" would otherwise authenticate as customer 42."""
    mine = await open_ticket(chat, "acme", "42", "Mine")
    uuid_id = "9F1C2D3E-4A5B-4C6D-8E7F-0A1B2C3D4E5F"
    for sent in ("042", " 42", "42 ", "+42", "4_2", uuid_id, "not-an-id"):
        body = {"text": mine, **chat.identity(sent)}
        problem(await chat.post("lookup", body), 422, "InvalidCustomerId", "customer_id")
        reply = {**chat.identity(sent), "ticket_number": mine, "message": "hi"}
        problem(await chat.post("messages", reply), 422, "InvalidCustomerId", "customer_id")
    canonical = await chat.post("lookup", {"text": mine, **chat.identity("42")})
    assert [c["ticket_number"] for c in canonical.json()["cards"]] == [mine]
