"""The desk and outages: the marker and latest update on a linked ticket, the outage's own page
(tags, ETA, status, counts, updates), and the queue's "Outage" filter."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tests.outages.support import declare, post_update, tag_customer
from tests.web.desk.conftest import GLORIA, Desk, sign_in


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-number="(TKT-\d+)"', html)


async def test_a_linked_ticket_shows_its_outage_and_the_latest_update(desk: Desk) -> None:
    await tag_customer(desk.ports.sessions, "acme", "42", "olt:berlin-7")
    before = await desk.ticket("No internet")
    declared = await declare(desk.ports.sessions, eta=datetime.now(UTC) + timedelta(hours=2))
    await post_update(desk.ports.sessions, declared.ticket_number, "Crew on site.")
    after = await desk.ticket("Still no internet")
    async with desk.client() as client:
        await sign_in(client)
        for ticket in (before, after):
            page = (await client.get(f"/desk/tickets/{ticket.ticket_number}")).text
            number = declared.ticket_number
            link = f'<a href="/desk/tickets/{number}">Outage {number}</a>'
            assert link in page
            assert "Crew on site." in page and "Latest update" in page
            assert "Fibre cut in Berlin-Mitte" in page
            # The timeline names the outage once: "Linked to an outage: TKT-…".
            assert f"Linked to an outage: {number}</p>" in page
            assert f"outage: outage: {number}" not in page
        parent = (await client.get(f"/desk/tickets/{declared.ticket_number}")).text
    facts = dict(re.findall(r'data-field="outage-(\w+)">(.*?)</dd>', parent))
    assert facts["status"] == "Active"
    assert facts["affected"] == "1" and facts["linked"] == "2"
    assert "olt:berlin-7" in facts["tags"] and "postcode:10115" in facts["tags"]
    assert "<time datetime=" in facts["eta"]
    assert "Crew on site." in parent and "A digger cut the fibre" in parent
    for ticket in (before, after):
        assert f'href="/desk/tickets/{ticket.ticket_number}"' in parent


async def test_an_ordinary_ticket_shows_no_outage(desk: Desk) -> None:
    plain = await desk.ticket("Billing question")
    async with desk.client() as client:
        await sign_in(client)
        page = (await client.get(f"/desk/tickets/{plain.ticket_number}")).text
    assert "outage-heading" not in page and "Outage TKT" not in page


async def test_the_queue_marks_linked_tickets_and_filters_by_outage(desk: Desk) -> None:
    await tag_customer(desk.ports.sessions, "acme", "42", "olt:berlin-7")
    linked = await desk.ticket("No internet")
    declared = await declare(desk.ports.sessions)
    await tag_customer(desk.ports.sessions, "acme", "42")
    plain = await desk.ticket("Billing question")
    async with desk.client() as client:
        await sign_in(client)
        every = (await client.get("/desk")).text
        only_linked = (await client.get("/desk?outage=linked")).text
        not_linked = (await client.get("/desk?outage=none")).text
        bad = await client.get("/desk?outage=maybe")
        live = (await client.get("/desk/live?outage=linked")).text
    assert set(rows(every)) == {linked.ticket_number, plain.ticket_number, declared.ticket_number}
    assert f'Outage <span class="nowrap">{declared.ticket_number}</span>' in every
    assert rows(only_linked) == [linked.ticket_number]
    assert set(rows(not_linked)) == {plain.ticket_number, declared.ticket_number}
    assert rows(live) == [linked.ticket_number]
    assert '<label for="f-outage">Outage</label>' in every
    assert '<option value="linked" selected>Linked to an outage</option>' in only_linked
    assert bad.status_code == 422 and "Choose an outage filter from the list." in bad.text


async def test_another_tenants_agent_sees_no_outage(desk: Desk) -> None:
    declared = await declare(desk.ports.sessions)
    async with desk.client() as client:
        await sign_in(client, GLORIA)
        page = await client.get(f"/desk/tickets/{declared.ticket_number}")
        queue = (await client.get("/desk?outage=linked")).text
    assert page.status_code == 404 and "Fibre cut" not in page.text
    assert rows(queue) == []
