"""The portal over HTTP: the sign-in link's rules, scoping, CSRF, the new-ticket form."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import text

from tests.web.portal.conftest import (
    JANE,
    SAM,
    Site,
    ask_link,
    confirm,
    field,
    sign_in,
)
from ticketing.auth.principal import Principal


def without(html: str, email: str) -> str:
    return html.replace(email, "ADDRESS")


async def test_an_unknown_address_gets_the_same_page_and_status_and_no_mail(site: Site) -> None:
    async with site.client() as client:
        known = await ask_link(client, "JANE@example.com")
        unknown = await ask_link(client, "nobody@example.com")
        other_tenant_only = await ask_link(client, "bob@example.com")
    assert known.status_code == unknown.status_code == other_tenant_only.status_code == 200
    assert without(known.text, "JANE@example.com") == without(unknown.text, "nobody@example.com")
    assert without(known.text, "JANE@example.com") == without(
        other_tenant_only.text, "bob@example.com"
    )
    await site.next_link("JANE@example.com", 1)
    assert site.sign_in_mails("nobody@example.com") == []
    assert site.sign_in_mails("bob@example.com") == []


async def test_every_answer_to_send_me_a_link_is_the_same_page_and_status(site: Site) -> None:
    """Known, unknown, known only at another tenant, and over the hourly limit: one answer."""
    async with site.client() as client:
        for _ in range(5):
            await ask_link(client, SAM)
        await site.next_link(SAM, 5)
        answers = {
            SAM: await ask_link(client, SAM),  # the sixth this hour
            "nobody@example.com": await ask_link(client, "nobody@example.com"),
            "bob@example.com": await ask_link(client, "bob@example.com"),
            "JANE@example.com": await ask_link(client, "JANE@example.com"),
        }
    assert {a.status_code for a in answers.values()} == {200}
    assert len({without(a.text, email) for email, a in answers.items()}) == 1
    # The same headers too (but for the length, which follows the address's).
    headers = {
        tuple(
            (k, v)
            for k, v in sorted(a.headers.multi_items())
            if k not in ("content-length", "date")
        )
        for a in answers.values()
    }
    assert len(headers) == 1
    # Jane's mail, asked for last, proves the others' would have arrived (sent in order).
    await site.next_link("JANE@example.com", 1)
    assert len(site.sign_in_mails(SAM)) == 5
    assert site.sign_in_mails("nobody@example.com") == site.sign_in_mails("bob@example.com") == []


async def test_a_link_signs_in_once_after_the_button_and_a_get_alone_signs_nobody_in(
    site: Site,
) -> None:
    async with site.client() as client:
        await ask_link(client, JANE)
        link = await site.next_link(JANE, 1)
        # What a mail scanner does: GET the link, twice. Nobody is signed in by it.
        for _ in range(2):
            page = await client.get(link)
            assert page.status_code == 200
            assert "portal_session" not in page.cookies
            assert ">Sign in</button>" in page.text
        signed = await confirm(client, link)
        assert signed.status_code == 303
        assert signed.headers["location"] == "/portal?tenant=acme"
        cookie = signed.cookies["portal_session"]
        assert (
            "HttpOnly" in signed.headers["set-cookie"]
            and "Path=/portal" in signed.headers["set-cookie"]
        )
        mine = await client.get("/portal?tenant=acme")
        assert "My tickets</caption>" in mine.text
    async with site.client() as again:
        reused = await again.get(link)
        assert reused.status_code == 410
        assert "Sign in</button>" not in reused.text
        posted = await again.post(
            "/portal/signin",
            data={"csrf": again.cookies["portal_form"], "link": link.rsplit("/", 1)[1]},
        )
        assert posted.status_code == 410
        assert "portal_session" not in posted.cookies
    async with site.ports.sessions() as session:
        stored = (await session.execute(text("SELECT token_hash FROM portal_links"))).scalars()
        token = link.rsplit("/", 1)[1]
        # Only digests: the token itself is nowhere in the table.
        assert all(token.encode() not in bytes(h) for h in stored)
        sessions = (await session.execute(text("SELECT id_hash FROM portal_sessions"))).scalars()
        assert all(cookie.encode() not in bytes(h) for h in sessions)


async def test_a_new_link_voids_the_older_one(site: Site) -> None:
    async with site.client() as client:
        await ask_link(client, JANE)
        first = await site.next_link(JANE, 1)
        await ask_link(client, JANE)
        second = await site.next_link(JANE, 2)
        assert first != second
        assert (await confirm(client, first)).status_code == 410
        assert (await confirm(client, second)).status_code == 303


async def test_at_most_five_links_an_hour_for_an_address_with_the_same_answer(
    site: Site,
) -> None:
    async with site.client() as client:
        answers = [await ask_link(client, SAM) for _ in range(6)]
        await site.next_link(SAM, 5)
        # The sixth answer looks like the others; only no mail follows it.
        assert {a.status_code for a in answers} == {200}
        assert len({a.text for a in answers}) == 1
        # A request after the sixth proves the mail of the sixth would have arrived by now:
        # mail goes out in order of the requests, from one event loop.
        await ask_link(client, JANE)
        await site.next_link(JANE, 1)
    assert len(site.sign_in_mails(SAM)) == 5


async def test_a_post_without_the_csrf_token_changes_nothing(site: Site) -> None:
    async with site.client() as client:
        refused = await client.post(
            "/portal/link", data={"tenant": "acme", "email": JANE, "csrf": "forged"}
        )
        assert refused.status_code == 403
    ticket = await site.ticket("No internet")
    async with site.client() as client:
        await sign_in(site, client)
        reply = await client.post(
            f"/portal/tickets/{ticket.ticket_number}/reply", data={"body": "Still down"}
        )
        assert reply.status_code == 403
        page = await client.get(f"/portal/tickets/{ticket.ticket_number}")
        assert "Still down" not in page.text


async def test_a_customer_sees_only_its_own_tickets_in_its_tenant_without_internal_notes(
    site: Site,
) -> None:
    mine = await site.ticket("Jane's fibre is down")
    sams = await site.ticket("Sam's router", customer="43")
    globex_jane = await site.ticket("Jane at Globex", tenant="globex", customer="9")
    agent = site.flows(Principal.tenant_agent("acme", "alice@acme.test"))
    await agent.reply(mine.ticket_id, body="We are on it.")
    await agent.reply(mine.ticket_id, body="Line card 7 is flaky.", is_internal=True)
    async with site.client() as client:
        await sign_in(site, client)
        listing = (await client.get("/portal?tenant=acme")).text
        assert mine.ticket_number in listing
        assert sams.ticket_number not in listing and globex_jane.ticket_number not in listing
        page = await client.get(f"/portal/tickets/{mine.ticket_number}")
        assert page.status_code == 200
        assert "We are on it." in page.text and "Line card 7" not in page.text
        assert page.headers["cache-control"] == "no-store"
        assert "script-src 'self'" in page.headers["content-security-policy"]
        for other in (sams, globex_jane):
            refused = await client.get(f"/portal/tickets/{other.ticket_number}")
            assert refused.status_code == 404
        missing = await client.get("/portal/tickets/TKT-999999")
        assert missing.status_code == 404 and missing.text == refused.text
        reply = await client.post(
            f"/portal/tickets/{sams.ticket_number}/reply",
            data={"csrf": field(page.text, "csrf"), "body": "Mine now?"},
        )
        assert reply.status_code == 404
    # The same address signed in at Globex: Globex's Jane, not Acme's.
    async with site.client() as client:
        await sign_in(site, client, tenant="globex")
        listing = (await client.get("/portal?tenant=globex")).text
        assert globex_jane.ticket_number in listing and mine.ticket_number not in listing
        assert (await client.get(f"/portal/tickets/{mine.ticket_number}")).status_code == 404
        # Asking for Acme's portal with a Globex session shows Acme's sign-in, not a list.
        acme = await client.get("/portal?tenant=acme")
        assert "Send me a link" in acme.text and "My tickets</caption>" not in acme.text


async def test_a_new_ticket_is_the_customers_on_channel_web_and_bad_input_stays_at_the_field(
    site: Site,
) -> None:
    async with site.client() as client:
        await sign_in(site, client)
        form = await client.get("/portal/new")
        csrf, key = field(form.text, "csrf"), field(form.text, "key")
        empty = await client.post(
            "/portal/new", data={"csrf": csrf, "key": key, "title": "", "description": "x"}
        )
        assert empty.status_code == 422
        assert re.search(r'id="title-error"', empty.text)
        too_many = await client.post(
            "/portal/new",
            data={"csrf": csrf, "key": key, "title": "Photos", "description": ""},
            files=[("attachments", (f"p{i}.png", b"x", "image/png")) for i in range(11)],
        )
        assert too_many.status_code == 422 and 'id="attachments-error"' in too_many.text
        made = await client.post(
            "/portal/new",
            data={"csrf": csrf, "key": key, "title": "Slow evenings", "description": "After 8 pm"},
            files=[("attachments", ("", b"", "application/octet-stream"))],
        )
        assert made.status_code == 303, made.text
        number = made.headers["location"].rsplit("/", 1)[1]
        page = await client.get(made.headers["location"])
        assert "Slow evenings" in page.text and "After 8 pm" in page.text
        forged = await client.post(
            "/portal/new", data={"key": "k2", "title": "Forged", "description": ""}
        )
        assert forged.status_code == 403
    async with site.ports.sessions() as session:
        row = (
            await session.execute(
                text("SELECT channel, customer_id, tenant_id FROM tickets WHERE number = :n"),
                {"n": int(number.removeprefix("TKT-"))},
            )
        ).one()
    assert tuple(row) == ("web", "42", "acme")
    # The created notice every channel sends, through the same flow.
    assert any(number in str(r.message["Subject"]) for r in site.mail.received)


async def test_sign_out_ends_the_session_server_side(site: Site) -> None:
    async with site.client() as client:
        await sign_in(site, client)
        cookie = client.cookies["portal_session"]
        page = await client.get("/portal?tenant=acme")
        out = await client.post("/portal/logout", data={"csrf": field(page.text, "csrf")})
        assert out.status_code == 303
    async with site.client() as stolen:
        stolen.cookies.set("portal_session", cookie, path="/portal")
        answer = await stolen.get("/portal/new")
        assert answer.status_code == 303


async def test_over_http_a_link_expires_after_15_minutes_and_a_session_after_8_hours_idle(
    site: Site,
) -> None:
    async with site.client() as client:
        await ask_link(client, JANE)
        late = await site.next_link(JANE, 1)
        site.clock.advance(timedelta(minutes=15, seconds=1))
        page = await client.get(late)
        assert page.status_code == 410 and "Sign in</button>" not in page.text
        await sign_in(site, client)
        assert "My tickets</caption>" in (await client.get("/portal?tenant=acme")).text
        site.clock.advance(timedelta(hours=8, seconds=1))
        idle = await client.get("/portal?tenant=acme")
        assert "My tickets</caption>" not in idle.text and "Send me a link" in idle.text
        assert (await client.get("/portal/new")).status_code == 303


async def test_over_http_a_busy_session_ends_7_days_after_sign_in(site: Site) -> None:
    async with site.client() as client:
        await sign_in(site, client)
        # A visit every 7 hours (never 8 h idle) for 161 hours; the next one is past 7 days.
        for _ in range(23):
            site.clock.advance(timedelta(hours=7))
            assert (await client.get("/portal/new")).status_code == 200
        site.clock.advance(timedelta(hours=7, seconds=1))
        assert (await client.get("/portal/new")).status_code == 303


async def test_a_new_tickets_files_commit_with_it_and_a_resubmitted_form_adds_none(
    site: Site,
) -> None:
    """The form sent twice (a refresh, a double click) is one ticket with its file once."""
    async with site.client() as client:
        await sign_in(site, client)
        form = await client.get("/portal/new")
        data = {
            "csrf": field(form.text, "csrf"),
            "key": field(form.text, "key"),
            "title": "Router lights",
            "description": "See the photo",
        }
        photo = [("attachments", ("router.png", b"\x89PNG fake", "image/png"))]
        first = await client.post("/portal/new", data=data, files=photo)
        again = await client.post("/portal/new", data=data, files=photo)
        assert first.status_code == again.status_code == 303, again.text
        assert first.headers["location"] == again.headers["location"]
    number = int(first.headers["location"].rsplit("/", 1)[1].removeprefix("TKT-"))
    async with site.ports.sessions() as session:
        files = (
            await session.execute(
                text(
                    "SELECT a.filename FROM attachments a JOIN tickets t ON t.id = a.ticket_id"
                    " WHERE t.number = :n"
                ),
                {"n": number},
            )
        ).scalars()
        assert list(files) == ["router.png"]
