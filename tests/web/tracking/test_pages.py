"""The tracking pages over HTTP against a live server: lookup, enumeration, CSRF, links, replies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from tests.web.tracking.conftest import Site, csrf_of, token_of
from ticketing.auth.principal import Principal
from ticketing.tickets.models import TicketMessage
from ticketing.tickets.service import TicketService
from ticketing.web.tracking.routes import NOT_FOUND


async def lookup(client: httpx.AsyncClient, csrf: str, **fields: str) -> httpx.Response:
    return await client.post("/track", data={"csrf": csrf, "tenant": "", **fields})


@asynccontextmanager
async def browser(site: Site) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A client with the tracking cookie and its form token, as a browser has after GET."""
    async with httpx.AsyncClient(base_url=site.url) as client:
        form = await client.get("/track")
        assert form.status_code == 200
        yield client, csrf_of(form.text)


async def test_the_form_is_labelled_in_english_and_locked_down(site: Site) -> None:
    async with httpx.AsyncClient(base_url=site.url) as client:
        page = await client.get("/track", params={"tenant": "acme", "number": "TKT-000009"})
    html = page.text
    assert page.status_code == 200
    assert '<html lang="en">' in html
    assert '<label for="number">Ticket number</label>' in html
    assert '<label for="email">Email address</label>' in html
    assert 'value="TKT-000009"' in html
    assert "Acme Fiber" in html  # the tenant's name, from ?tenant=
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


async def test_number_and_email_open_the_public_timeline_only(site: Site) -> None:
    ticket = await site.open_ticket()
    agent = site.flows(Principal.tenant_agent("acme", name="alice.agent@acme.test"))
    await agent.reply(ticket.ticket_id, body="A technician is on the way.")
    await agent.reply(ticket.ticket_id, body="INTERNAL: customer is a VIP", is_internal=True)
    async with browser(site) as (client, csrf):
        # Case and spaces do not matter in the address.
        page = await lookup(client, csrf, number=" tkt-000001 ", email=" jane@EXAMPLE.com ")
    html = page.text
    assert page.status_code == 200, html
    assert "No internet since the storm" in html
    assert "A technician is on the way." in html
    assert "The router&#39;s DSL light blinks." in html
    assert ">Support<" in html and ">You<" in html
    assert "INTERNAL" not in html and "VIP" not in html
    assert "alice" not in html and "@acme.test" not in html
    assert "Acme Fiber" in html
    assert 'data-field="status">Open<' in html


async def test_wrong_email_unknown_number_and_malformed_input_look_the_same(site: Site) -> None:
    await site.open_ticket()
    async with browser(site) as (client, csrf):
        answers = [
            await lookup(client, csrf, number="TKT-000001", email="mallory@example.com"),
            await lookup(client, csrf, number="TKT-000999", email="jane@example.com"),
            await lookup(client, csrf, number="TKT-000999", email="mallory@example.com"),
            await lookup(client, csrf, number="not a number", email="jane@example.com"),
            await lookup(client, csrf, number="TKT-" + "9" * 40, email="jane@example.com"),
            await lookup(client, csrf, number="TKT-000001", email="jane"),
            await lookup(client, csrf, number="TKT-000001", email="x" * 5000 + "@example.com"),
            await lookup(client, csrf, number="TKT-000001", email=""),
            await lookup(client, csrf, number="TKT-000001\x00", email="jane@example.com\x00"),
            await lookup(client, csrf),
            await client.post(
                "/track",
                content=f"csrf={csrf}&tenant=&number=TKT-000001&email=%ff%fe".encode(),
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
        ]
    first = answers[0]
    assert first.status_code == 200 and NOT_FOUND in first.text
    for answer in answers[1:]:
        assert (answer.status_code, answer.content) == (first.status_code, first.content)


async def test_rate_limited_lookups_get_the_same_page_even_with_the_right_email(
    strict_site: Site,
) -> None:
    site = strict_site
    await site.open_ticket()
    async with browser(site) as (client, csrf):
        wrong = [
            await lookup(client, csrf, number="TKT-000001", email=f"guess{i}@example.com")
            for i in range(3)
        ]
        right = await lookup(client, csrf, number="TKT-000001", email="jane@example.com")
        other_number = await lookup(client, csrf, number="TKT-000002", email="jane@example.com")
    assert (right.status_code, right.content) == (wrong[0].status_code, wrong[0].content)
    # Another number is still answered (its own window); its mismatch page is that same page.
    assert (other_number.status_code, other_number.content) == (200, wrong[0].content)


async def test_a_lookup_without_the_form_token_is_refused(site: Site) -> None:
    await site.open_ticket()
    async with httpx.AsyncClient(base_url=site.url) as client:
        await client.get("/track")
        forged = await client.post(
            "/track", data={"csrf": "forged", "number": "TKT-000001", "email": "jane@example.com"}
        )
    assert forged.status_code == 403
    assert "No internet" not in forged.text
    # A token minted for another browser does not fit this one's cookie.
    async with httpx.AsyncClient(base_url=site.url) as other:
        await other.get("/track")
        stolen = site.tokens.form_token("someone-else")
        again = await lookup(other, stolen, number="TKT-000001", email="jane@example.com")
    assert again.status_code == 403


async def test_a_reply_goes_through_the_ticket_flow_as_the_customer(site: Site) -> None:
    ticket = await site.open_ticket()
    async with browser(site) as (client, csrf):
        page = await lookup(client, csrf, number="TKT-000001", email="jane@example.com")
        token = token_of(page.text)
        sent = await client.post(
            "/track/reply", data={"csrf": csrf, "token": token, "body": "Still down <b>today</b>"}
        )
        assert sent.status_code == 303
        after = await client.get(sent.headers["location"])
        empty = await client.post("/track/reply", data={"csrf": csrf, "token": token, "body": " "})
    assert "Still down &lt;b&gt;today&lt;/b&gt;" in after.text
    assert "Your reply was added" in after.text
    assert empty.status_code == 422 and "Please write a message" in empty.text
    async with site.ports.sessions() as session:
        messages = (
            await session.execute(
                select(TicketMessage.author_actor, TicketMessage.author, TicketMessage.is_internal)
                .where(TicketMessage.ticket_id == ticket.ticket_id)
                .order_by(TicketMessage.id)
            )
        ).all()
    assert [(m[0].value, m[1], m[2]) for m in messages][-1] == (
        "customer",
        "Jane@Example.com",
        False,
    )
    # The flow woke the ticket's watcher: its history holds the ticket_changed signal.
    handle = site.ports.watchers.client.get_workflow_handle(f"escalation-{ticket.ticket_number}")
    signals = [
        e.workflow_execution_signaled_event_attributes.signal_name
        async for e in handle.fetch_history_events()
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    assert "ticket_changed" in signals


async def test_links_open_their_ticket_until_they_expire(site: Site) -> None:
    ticket = await site.open_ticket()
    good = site.tokens.link(ticket.ticket_id, expires=datetime.now(UTC) + timedelta(hours=1))
    expired = site.tokens.link(ticket.ticket_id, expires=datetime.now(UTC) - timedelta(seconds=1))
    tampered = good[:-2] + ("AA" if good[-2:] != "AA" else "BB")
    async with httpx.AsyncClient(base_url=site.url) as client:
        opened = await client.get(f"/track/{good}")
        refused = [await client.get(f"/track/{t}") for t in (expired, tampered, "x", "é" * 10)]
        reply = await client.post(
            "/track/reply",
            data={"csrf": csrf_of(opened.text), "token": expired, "body": "hello"},
        )
    assert opened.status_code == 200 and "No internet since the storm" in opened.text
    for answer in refused:
        assert answer.status_code == 404 and "No internet" not in answer.text
    assert reply.status_code == 403


async def test_the_customer_confirms_a_resolution_and_the_ticket_closes(site: Site) -> None:
    ticket = await site.open_ticket()
    agent = site.flows(Principal.tenant_agent("acme", name="ann"))
    async with browser(site) as (client, csrf):
        page = await lookup(client, csrf, number=ticket.ticket_number, email="jane@example.com")
        token = token_of(page.text)
        # Not resolved yet: no confirm button, and a forged confirm changes nothing.
        early = await client.post("/track/confirm", data={"csrf": csrf, "token": token})
        await agent.change_status(ticket.ticket_id, "resolved")
        resolved = await client.get(f"/track/{token}")
        forged = await client.post("/track/confirm", data={"csrf": "x", "token": token})
        confirmed = await client.post("/track/confirm", data={"csrf": csrf, "token": token})
        after = await client.get(confirmed.headers["location"])
        # A second click (another tab, a retried post) is no error: the ticket is closed.
        twice = await client.post("/track/confirm", data={"csrf": csrf, "token": token})
    assert "Yes, close my ticket" not in page.text
    assert early.status_code == 409 and "not waiting for your confirmation" in early.text
    assert "Yes, close my ticket" in resolved.text
    assert forged.status_code == 403
    assert confirmed.status_code == 303
    assert "Your ticket is closed" in after.text and "Yes, close my ticket" not in after.text
    assert twice.status_code == 303, twice.text
    async with site.ports.sessions() as session:
        service = TicketService(session, Principal.platform())
        info = await service.get_ticket(ticket.ticket_id)
        _, events = await service.timeline(ticket.ticket_id)
    assert info.status.value == "closed"
    assert any(e.data.get("reason") == "customer_confirmed" for e in events), events


async def test_a_nul_in_the_tenant_or_the_lookup_is_no_tenant_and_not_found(site: Site) -> None:
    # PostgreSQL text cannot hold NUL: `?tenant=a%00` once failed the public page with a 500.
    await site.open_ticket()
    async with httpx.AsyncClient(base_url=site.url) as client:
        page = await client.get("/track", params={"tenant": "acme\x00", "number": "\x00"})
        assert page.status_code == 200, page.text
        assert "Acme Fiber" not in page.text
    async with browser(site) as (client, csrf):
        fields = {"number": "TKT-000001\x00", "email": "jane@example.com\x00"}
        page = await lookup(client, csrf, tenant="acme\x00", **fields)
        assert page.status_code == 200 and NOT_FOUND in page.text
        stale = await client.post("/track", data={"csrf": csrf + "x", "tenant": "acme\x00"})
        assert stale.status_code == 403
