"""A customer's ticket linked to an outage shows the outage's public updates on the tracking
page (title, ETA, updates with their times), and nothing about other customers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.outages.support import declare, post_update, set_public_tags, tag_customer
from tests.web.tracking.conftest import Site, csrf_of
from ticketing.auth.principal import Principal
from ticketing.tenants.service import TenantService


async def lookup(site: Site, number: str, email: str = "jane@example.com") -> str:
    async with httpx.AsyncClient(base_url=site.url) as client:
        form = await client.get("/track?tenant=acme")
        page = await client.post(
            "/track",
            data={"csrf": csrf_of(form.text), "tenant": "acme", "number": number, "email": email},
        )
    assert page.status_code == 200, page.text
    return page.text


async def test_a_linked_ticket_shows_the_outage_updates_and_nothing_of_others(site: Site) -> None:
    sessions = site.ports.sessions
    async with sessions() as session, session.begin():
        await TenantService(session, Principal.platform()).upsert_customer(
            tenant_id="acme", customer_id="43", email="sam@example.com"
        )
    await set_public_tags(sessions, "acme", "postcode:")
    await tag_customer(sessions, "acme", "42", "olt:berlin-7")
    await tag_customer(sessions, "acme", "43", "olt:berlin-7")
    mine = await site.open_ticket("No internet since the storm")
    theirs = await site.flows(Principal.integration("acme")).create(
        {"title": "Sam's line is dead", "customer_id": 43, "description": "Nothing works."}
    )
    eta = datetime.now(UTC) + timedelta(hours=4)
    declared = await declare(sessions, eta=eta)
    await post_update(sessions, declared.ticket_number, "Splicing has started.")

    html = await lookup(site, mine.ticket_number)
    assert "Known outage: Fibre cut in Berlin-Mitte" in html
    assert "A digger cut the fibre; a crew is on the way." in html
    assert "Splicing has started." in html
    assert f'<time datetime="{eta.isoformat()}' in html
    assert 'data-field="outage-status">Ongoing<' in html
    # Newest update first, each with its time.
    assert html.index("Splicing has started.") < html.index("A digger cut the fibre")
    assert html.count('<li class="message"><p class="meta"><time datetime=') >= 2
    # Nothing about other customers, the outage's own ticket, counts or private tags.
    assert theirs.ticket_number not in html and "Sam" not in html
    assert "sam@example.com" not in html
    assert declared.ticket_number not in html
    assert "olt:berlin-7" not in html
    for word in ("affected", "linked", "notified"):
        assert word not in html.lower(), word


async def test_an_unlinked_ticket_shows_no_outage(site: Site) -> None:
    await declare(site.ports.sessions)
    plain = await site.open_ticket("Billing question")
    html = await lookup(site, plain.ticket_number)
    assert "Known outage" not in html and "Fibre cut" not in html
