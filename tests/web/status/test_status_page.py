"""GET /status?tenant=ID and /status.json: a tenant's active outages for anyone, locked down like
/track, and nothing about customers, private tags or another tenant."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.outages.support import declare, noc, post_update, set_public_tags, tag_customer
from tests.web.desk.conftest import Desk


def main(html: str) -> str:
    """The page's <main>: what it says, without the tenant's name around it."""
    found = re.search(r"<main.*</main>", html, re.S)
    assert found, html
    return found.group(0)


async def affected_world(desk: Desk) -> tuple[str, list[str]]:
    """acme: customer 42 and two more behind olt:berlin-7, each with a ticket; an outage over
    them with one update; its tags: olt:berlin-7 (private) and postcode:10115 (public)."""
    sessions: async_sessionmaker[AsyncSession] = desk.ports.sessions
    await set_public_tags(sessions, "acme", "postcode:")
    for customer in ("42", "43", "44"):
        await tag_customer(sessions, "acme", customer, "olt:berlin-7")
    tickets = [await desk.ticket(f"Down {n}") for n in range(2)]
    declared = await declare(sessions, eta=datetime.now(UTC) + timedelta(hours=3))
    await post_update(sessions, declared.ticket_number, "Splicing has started.")
    return declared.ticket_number, [t.ticket_number for t in tickets]


async def test_the_page_is_locked_down_like_track(desk: Desk) -> None:
    async with desk.client() as client:
        page = await client.get("/status?tenant=acme")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src" not in policy and "'unsafe-inline'" not in policy
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in page.headers
    assert "<script" not in page.text
    assert "No known outages." in page.text


async def test_active_outages_show_title_public_tags_eta_and_the_latest_update(
    desk: Desk,
) -> None:
    parent, linked = await affected_world(desk)
    async with desk.client() as client:
        html = (await client.get("/status?tenant=acme")).text
        data = (await client.get("/status.json?tenant=acme")).json()
    assert "Fibre cut in Berlin-Mitte" in html
    assert "Splicing has started." in html
    # Only the latest update: the first one (the description) is superseded.
    assert "A digger cut the fibre" not in html
    assert "postcode:10115" in html
    assert re.search(r'<dt>Expected fix</dt><dd><time datetime="', html)
    [outage] = data["outages"]
    assert outage["title"] == "Fibre cut in Berlin-Mitte"
    assert outage["tags"] == ["postcode:10115"]
    assert outage["latest_update"]["body"] == "Splicing has started."
    assert set(outage) == {"title", "status", "tags", "eta", "started_at", "latest_update"}


async def test_nothing_about_customers_tickets_or_private_tags(desk: Desk) -> None:
    parent, linked = await affected_world(desk)
    async with desk.client() as client:
        html = (await client.get("/status?tenant=acme")).text
        data = (await client.get("/status.json?tenant=acme")).text
    for text in (html, data):
        assert "olt:berlin-7" not in text
        for number in (parent, *linked):
            assert number not in text
        assert "example.com" not in text.lower()
        for word in ("affected", "linked", "notified", "customers"):
            assert word not in text.lower(), word
    # Three affected customers, two linked tickets: no such count anywhere on the page.
    visible = re.sub(r"<[^>]+>", " ", html)
    assert not re.search(r"\b[23]\b", re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "", visible))


async def test_no_public_tags_marked_shows_no_tags(desk: Desk) -> None:
    await declare(desk.ports.sessions, tags=("olt:berlin-7", "postcode:10115"))
    async with desk.client() as client:
        data = (await client.get("/status.json?tenant=acme")).json()
        html = (await client.get("/status?tenant=acme")).text
    assert data["outages"][0]["tags"] == []
    assert "postcode:10115" not in html and "<dt>Areas</dt>" not in html


async def test_another_tenants_outage_never_shows(desk: Desk) -> None:
    await declare(desk.ports.sessions, tenant="globex", title="Globex core router down")
    await set_public_tags(desk.ports.sessions, "globex", "olt:")
    async with desk.client() as client:
        acme = (await client.get("/status?tenant=acme")).text
        acme_data = (await client.get("/status.json?tenant=acme")).json()
        globex = (await client.get("/status?tenant=globex")).text
    assert "Globex core router down" not in acme and acme_data["outages"] == []
    assert "No known outages." in acme
    assert "Globex core router down" in globex and "olt:berlin-7" in globex


async def test_unknown_and_malformed_tenants_read_as_a_tenant_without_outages(
    desk: Desk,
) -> None:
    async with desk.client() as client:
        known = await client.get("/status?tenant=acme")
        unknown = await client.get("/status?tenant=nosuch")
        malformed = await client.get("/status", params={"tenant": "a\x00<b>" * 50})
        missing = await client.get("/status")
        data = await client.get("/status.json?tenant=nosuch")
    for page in (known, unknown, malformed, missing):
        assert page.status_code == 200
        assert "No known outages." in page.text
    assert "<b>" not in malformed.text
    # The same page but for the name in the header, which /track?tenant= shows as well.
    assert main(unknown.text) == main(known.text) == main(malformed.text)
    assert unknown.headers["content-security-policy"] == known.headers["content-security-policy"]
    assert data.status_code == 200 and data.json()["outages"] == []


async def test_a_resolved_outage_leaves_the_page(desk: Desk) -> None:
    declared = await declare(desk.ports.sessions)
    await noc(desk.ports.sessions).resolve(declared.ticket_number, "Back online.")
    async with desk.client() as client:
        html = (await client.get("/status?tenant=acme")).text
    assert "Fibre cut" not in html and "No known outages." in html
