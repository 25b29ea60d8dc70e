"""Erasure over HTTP: personal data redacted, ticket, number, statuses and audit trail kept,
an `erased` event saying who and what; repeatable; refused to roles without the right."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.services import Services
from tests.web.support import ROLES, Keys, api_app, clear_keys, seed

Api = tuple[httpx.AsyncClient, Keys, str]


@pytest_asyncio.fixture
async def api(
    committed: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> AsyncIterator[Api]:
    keys = await seed(committed)
    async with committed() as session, session.begin():
        ticket = await Services(session).tickets.create_ticket(
            {
                "title": "No signal",
                "description": "Jane Doe at 1 Main St, call +1 555 0100",
                "customer_id": 42,
                "ticket_type": "installation_request",
                "service_address": "1 Main St",
                "device_serial_numbers": ["SN-123"],
                "requester_email": "jane@a.test",
                "metadata": {"phone": "+1 555 0100"},
            }
        )
    transport = httpx.ASGITransport(app=api_app(committed))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        reply = await client.post(
            f"/api/v1/tickets/{ticket.ticket_number}/messages",
            json={"body": "Jane, we will visit 1 Main St", "public": True},
            headers=keys.auth("tenant_agent"),
        )
        assert reply.status_code == 201, reply.text
        yield client, keys, ticket.ticket_number
    await clear_keys(engine)


async def test_erase_redacts_and_keeps_the_ticket_and_its_trail(
    api: Api, engine: AsyncEngine
) -> None:
    client, keys, number = api
    auth = keys.auth("tenant_admin")
    before = (await client.get(f"/api/v1/tickets/{number}", headers=auth)).json()
    response = await client.post(
        f"/api/v1/tickets/{number}/erase", json={"customer": True}, headers=auth
    )
    assert response.status_code == 200, response.text
    assert set(response.json()["erased"]) == {
        "title",
        "description",
        "requester_email",
        "service_address",
        "device_serial_numbers",
        "metadata",
        "messages",
        "notifications",
        "customer",
        "actors",
    }
    after = (await client.get(f"/api/v1/tickets/{number}", headers=auth)).json()
    ticket = after["ticket"]
    assert ticket["ticket_number"] == number and ticket["title"] == "[erased]"
    assert ticket["status"] == before["ticket"]["status"]
    assert ticket["description"] == "[erased]"
    assert ticket["service_address"] is None and ticket["device_serial_numbers"] == []
    assert all(m["body"] == "[erased]" for m in after["messages"])
    assert all(n["recipient"] is None for n in after["notifications"])
    # The audit trail is kept, with the erasure added at its end.
    kinds = [e["kind"] for e in after["events"]]
    assert kinds[: len(before["events"])] == [e["kind"] for e in before["events"]]
    erased = after["events"][-1]
    assert erased["kind"] == "erased" and erased["actor"] == "tenant_admin-key"
    # Nothing that identified Jane is left anywhere the ticket shows: not as the author of her
    # message, not as the actor of the `created` event.
    shown = json.dumps(after)
    for personal in ("jane@a.test", "Jane", "1 Main St", "555 0100", "SN-123", "No signal"):
        assert personal not in shown, personal
    assert after["messages"][0]["author_actor"] == "customer"
    assert after["messages"][0]["author"] == "[erased]"
    assert after["events"][0]["kind"] == "created" and after["events"][0]["actor"] == "[erased]"
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT t.requester_email, t.metadata::text, c.email, c.name,"
                    " (SELECT count(*) FROM notifications n WHERE n.ticket_id = t.id"
                    "  AND (n.recipient IS NOT NULL OR n.payload <> '{}'::jsonb"
                    "       OR n.status = 'queued'))"
                    " FROM tickets t JOIN customers c"
                    " ON c.tenant_id = t.tenant_id AND c.id = t.customer_id"
                    " WHERE t.number = :n"
                ),
                {"n": int(number.removeprefix("TKT-"))},
            )
        ).one()
    assert tuple(row) == (None, "{}", None, None, 0)


async def test_erase_again_changes_nothing_and_records_nothing(api: Api) -> None:
    client, keys, number = api
    auth = keys.auth("platform")
    first = await client.post(f"/api/v1/tickets/{number}/erase", headers=auth)
    assert first.status_code == 200 and first.json()["erased"]
    again = await client.post(f"/api/v1/tickets/{number}/erase", headers=auth)
    assert again.status_code == 200
    assert again.json() == {"ticket_number": number, "erased": [], "erased_at": None}
    events = (await client.get(f"/api/v1/tickets/{number}", headers=auth)).json()["events"]
    assert [e["kind"] for e in events].count("erased") == 1
    # Without `customer`, the customer's contact stays.
    customer = await client.get("/api/v1/tenants/acme/customers/42", headers=auth)
    assert customer.json()["email"] == "jane@a.test"


@pytest.mark.parametrize("role", ROLES)
async def test_who_may_erase(api: Api, role: str) -> None:
    client, keys, number = api
    response = await client.post(f"/api/v1/tickets/{number}/erase", headers=keys.auth(role))
    allowed = {"platform": 200, "tenant_admin": 200}
    assert response.status_code == allowed.get(role, 403), response.text


async def test_another_tenants_admin_sees_no_such_ticket(
    api: Api, committed: async_sessionmaker[AsyncSession]
) -> None:
    client, keys, _ = api
    async with committed() as session, session.begin():
        other = await Services(session).tickets.create_ticket({"title": "g", "customer_id": 7})
    response = await client.post(
        f"/api/v1/tickets/{other.ticket_number}/erase", headers=keys.auth("tenant_admin")
    )
    assert response.status_code == 404 and response.json()["type"] == "TicketNotFound"
    assert (await client.post(f"/api/v1/tickets/{other.ticket_number}/erase")).status_code == 401


async def test_links_issued_before_the_erasure_stop_opening_the_ticket(
    committed: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    from datetime import UTC, datetime, timedelta

    from ticketing.auth.signed_links import TrackingTokens
    from ticketing.notifications.mailer import Notifier
    from ticketing.notifications.service import DirectDelivery
    from ticketing.tickets.ports import NoWatchers
    from ticketing.web.app import create_app
    from ticketing.web.deps import ApiPorts
    from ticketing.web.tracking import TrackingConfig

    keys = await seed(committed)
    async with committed() as session, session.begin():
        ticket = await Services(session).tickets.create_ticket(
            {"title": "Jane Doe, 1 Main St: no signal", "customer_id": 42}
        )
    tokens = TrackingTokens(b"erase-test-secret-0123456789abcdefghijklmnop")
    link = tokens.link(ticket.ticket_id, expires=datetime.now(UTC) + timedelta(days=30))
    ports = ApiPorts(committed, NoWatchers(), DirectDelivery(committed, Notifier()))
    app = create_app(ports, tracking=TrackingConfig(tokens, lookup_floor=0))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        assert "Jane Doe" in (await client.get(f"/track/{link}")).text
        erased = await client.post(
            f"/api/v1/tickets/{ticket.ticket_number}/erase", headers=keys.auth("tenant_admin")
        )
        assert erased.status_code == 200 and "title" in erased.json()["erased"]
        old_link = await client.get(f"/track/{link}")
        # Nor does the customer's address (kept: `customer` was not asked) open it by number.
        client.cookies.set("track_browser", "b1")
        lookup = await client.post(
            "/track",
            data={
                "csrf": tokens.form_token("b1"),
                "number": ticket.ticket_number,
                "email": "jane@a.test",
            },
        )
    assert old_link.status_code == 404 and "Jane" not in old_link.text
    assert lookup.status_code == 200 and "could not find a ticket" in lookup.text
    await clear_keys(engine)
