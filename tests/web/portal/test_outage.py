"""The portal's ticket page shows the outage the customer's ticket is linked to: its title,
ETA and updates with their times; another customer sees none of it."""

from __future__ import annotations

from tests.outages.support import declare, post_update, tag_customer
from tests.web.portal.conftest import SAM, Site, sign_in


async def test_a_linked_ticket_shows_the_outage_on_the_portal(site: Site) -> None:
    await tag_customer(site.ports.sessions, "acme", "42", "olt:berlin-7")
    mine = await site.ticket("No internet")
    declared = await declare(site.ports.sessions)
    await post_update(site.ports.sessions, declared.ticket_number, "Splicing has started.")
    async with site.client() as client:
        await sign_in(site, client)
        page = await client.get(f"/portal/tickets/{mine.ticket_number}")
        listing = await client.get("/portal?tenant=acme")
    assert page.status_code == 200
    html = page.text
    assert "Known outage: Fibre cut in Berlin-Mitte" in html
    assert "Splicing has started." in html and "A digger cut the fibre" in html
    assert "Expected fix" in html and "Not known yet" in html
    assert declared.ticket_number not in html and "olt:berlin-7" not in html
    # The outage's own ticket is the tenant's, never in a customer's list.
    assert declared.ticket_number not in listing.text


async def test_another_customer_sees_no_outage_of_mine(site: Site) -> None:
    await tag_customer(site.ports.sessions, "acme", "42", "olt:berlin-7")
    mine = await site.ticket("No internet")
    await declare(site.ports.sessions)
    theirs = await site.ticket("Invoice", customer="43")
    async with site.client() as client:
        await sign_in(site, client, SAM)
        other = await client.get(f"/portal/tickets/{mine.ticket_number}")
        own = await client.get(f"/portal/tickets/{theirs.ticket_number}")
    assert other.status_code == 404 and "Fibre cut" not in other.text
    assert own.status_code == 200 and "Known outage" not in own.text
