"""The desk over HTTP on a live server: sign-in rules, cookies, CSRF, scoping, hostile text."""

from __future__ import annotations

import re

import httpx

from tests.web.desk.conftest import ALICE, GLORIA, PASSWORD, STAFF, Desk, field, sign_in
from ticketing.auth.principal import Principal
from ticketing.readmodels.ticket_detail import ticket_detail

HOSTILE = "<script>alert(1)</script> {{7*7}} <b>bold</b>"


async def messages_of(desk: Desk, number: str) -> list[str]:
    async with desk.ports.sessions() as session:
        detail = await ticket_detail(session, Principal.platform(), number)
    return [m.body for m in detail.messages]


async def test_wrong_password_and_unknown_email_get_the_same_page(desk: Desk) -> None:
    async with desk.client() as client:
        wrong = await sign_in(client, ALICE, "not the password")
        unknown = await sign_in(client, "nobody@acme.test", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    # The email typed is echoed back in the field; apart from it, one page.
    assert wrong.text.replace(ALICE, "X") == unknown.text.replace("nobody@acme.test", "X")
    assert "desk_session" not in wrong.headers.get("set-cookie", "")


async def test_sign_in_sets_a_session_cookie_and_pages_are_strict(desk: Desk) -> None:
    async with desk.client() as client:
        response = await sign_in(client)
        assert response.status_code == 303
        assert response.headers["location"] == "/desk"
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("desk_session=")
        lowered = cookie.lower()
        assert "httponly" in lowered and "samesite=lax" in lowered and "path=/desk" in lowered
        # A browser-session cookie: no lifetime of its own; not Secure on an http URL.
        assert "max-age" not in lowered and "expires" not in lowered and "secure" not in lowered
        queue = await client.get("/desk")
    assert queue.status_code == 200
    assert queue.headers["cache-control"] == "no-store"
    policy = queue.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy


async def test_a_new_session_id_at_each_sign_in_and_sign_out_ends_it(desk: Desk) -> None:
    async with desk.client() as client:
        await sign_in(client)
        first = client.cookies["desk_session"]
        await sign_in(client)
        second = client.cookies["desk_session"]
        assert first != second
        page = await client.get("/desk")
        csrf = field(page.text, "csrf")
        out = await client.post("/desk/logout", data={"csrf": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/desk/login"
    for old in (first, second):
        async with desk.client() as stale:
            stale.cookies.set("desk_session", old, path="/desk")
            response = await stale.get("/desk")
            assert response.status_code == 303
            assert response.headers["location"] == "/desk/login"


async def test_ten_failures_refuse_that_email_for_a_while(desk: Desk) -> None:
    async with desk.client() as client:
        for _ in range(10):
            assert (await sign_in(client, ALICE, "guess")).status_code == 401
        refused = await sign_in(client, ALICE, PASSWORD)
        assert refused.status_code == 429
        assert "Too many failed sign-ins" in refused.text
        assert "desk_session" not in client.cookies
        # Another email is not affected.
        assert (await sign_in(client, GLORIA, PASSWORD)).status_code == 303


async def test_posts_without_the_csrf_token_are_refused_and_change_nothing(desk: Desk) -> None:
    ticket = await desk.ticket()
    async with desk.client() as client:
        page = await client.get("/desk/login")
        no_token = await client.post("/desk/login", data={"email": ALICE, "password": PASSWORD})
        assert no_token.status_code == 403
        assert "desk_session" not in client.cookies
        assert "csrf" in page.text
        await sign_in(client)
        for path, form in (
            (f"/desk/tickets/{ticket.ticket_number}/reply", {"body": "Sneaky reply"}),
            (f"/desk/tickets/{ticket.ticket_number}/reply", {"body": "Sneaky", "csrf": "x"}),
            (f"/desk/tickets/{ticket.ticket_number}/properties", {"status": "closed"}),
            ("/desk/new", {"customer_email": "jane@example.com", "title": "Forged"}),
            ("/desk/logout", {}),
        ):
            response = await client.post(path, data=form)
            assert response.status_code == 403, path
            assert "Nothing was changed" in response.text
        # Still signed in (the refused sign-out did nothing), and the ticket is as it was.
        shown = await client.get(f"/desk/tickets/{ticket.ticket_number}")
        assert shown.status_code == 200
        assert '<dd data-field="status">Open</dd>' in shown.text
    assert await messages_of(desk, ticket.ticket_number) == ["The DSL light blinks."]


async def test_another_tenants_ticket_is_the_same_404_as_a_missing_one(desk: Desk) -> None:
    ours = await desk.ticket(tenant="globex")
    async with desk.client() as client:
        await sign_in(client)  # alice, of acme
        theirs = await client.get(f"/desk/tickets/{ours.ticket_number}")
        missing = await client.get("/desk/tickets/TKT-999999")
        malformed = await client.get("/desk/tickets/nonsense")
        assert theirs.status_code == missing.status_code == malformed.status_code == 404
        assert theirs.text == missing.text == malformed.text
        csrf = field((await client.get("/desk")).text, "csrf")
        reply = await client.post(
            f"/desk/tickets/{ours.ticket_number}/reply", data={"csrf": csrf, "body": "Hi"}
        )
        assert reply.status_code == 404
        queue = await client.get("/desk", params={"status": "any"})
        assert ours.ticket_number not in queue.text
    assert await messages_of(desk, ours.ticket_number) == ["The DSL light blinks."]


async def test_platform_staff_see_every_tenant_and_filter_by_one(desk: Desk) -> None:
    acme = await desk.ticket("Acme's ticket")
    globex = await desk.ticket("Globex's ticket", tenant="globex")
    async with desk.client() as client:
        await sign_in(client, STAFF)
        everything = await client.get("/desk")
        assert acme.ticket_number in everything.text and globex.ticket_number in everything.text
        assert '<label for="f-tenant">Tenant</label>' in everything.text
        one = await client.get("/desk", params={"tenant": "globex"})
        assert globex.ticket_number in one.text and acme.ticket_number not in one.text
        opened = await client.get(f"/desk/tickets/{globex.ticket_number}")
        assert opened.status_code == 200


async def test_customer_text_is_shown_as_text(desk: Desk) -> None:
    ticket = await desk.ticket(HOSTILE)
    async with desk.client() as client:
        await sign_in(client)
        for path in ("/desk", f"/desk/tickets/{ticket.ticket_number}", "/desk/live"):
            html = (await client.get(path)).text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
            assert "<script>alert" not in html and "<b>bold" not in html
            assert "{{7*7}}" in html  # shown as typed, never evaluated


async def test_queue_defaults_filters_search_and_pages(desk: Desk) -> None:
    done = await desk.ticket("Router replaced")
    agent = desk.flows(Principal.tenant_agent("acme", name=ALICE))
    await agent.change_status(done.ticket_id, "resolved")
    urgent = await desk.ticket("Fibre cut on Main Street", priority="urgent")
    await agent.assign(urgent.ticket_id, assigned_to=ALICE)
    for n in range(50):
        await desk.ticket(f"Slow line {n}")
    async with desk.client() as client:
        await sign_in(client)
        first = await client.get("/desk")
        numbers = re.findall(r'<tr data-number="(TKT-\d+)">', first.text)
        assert len(numbers) == 50
        assert numbers == sorted(numbers, reverse=True)  # newest first
        assert done.ticket_number not in numbers  # unsolved by default
        assert re.search(r'data-count="open">51<', first.text)
        assert re.search(r'data-count="resolved">1<', first.text)
        following = re.search(r'<a href="([^"]+)">Next</a>', first.text)
        assert following
        second = await client.get(following.group(1).replace("&amp;", "&"))
        rest = re.findall(r'<tr data-number="(TKT-\d+)">', second.text)
        assert rest == [urgent.ticket_number]
        back = re.search(r'<a href="([^"]+)">Previous</a>', second.text)
        assert back
        again = await client.get(back.group(1).replace("&amp;", "&"))
        assert re.findall(r'<tr data-number="(TKT-\d+)">', again.text) == numbers

        async def rows(**params: str) -> list[str]:
            html = (await client.get("/desk", params=params)).text
            return re.findall(r'<tr data-number="(TKT-\d+)">', html)

        assert await rows(status="resolved") == [done.ticket_number]
        assert await rows(priority="urgent") == [urgent.ticket_number]
        assert await rows(assignee=ALICE) == [urgent.ticket_number]
        # Search covers every status: number, a title word, the customer's email (any case).
        assert await rows(q=done.ticket_number) == [done.ticket_number]
        assert await rows(q="Router") == [done.ticket_number]
        assert len(await rows(q="jane@EXAMPLE.com")) == 50
        bad = await client.get("/desk", params={"status": "bogus"})
        assert bad.status_code == 422 and "Choose a status" in bad.text


async def test_reply_note_properties_and_new_ticket_through_the_flows(desk: Desk) -> None:
    ticket = await desk.ticket()
    n = ticket.ticket_number
    async with desk.client() as client:
        await sign_in(client)
        csrf = field((await client.get("/desk")).text, "csrf")
        sent = await client.post(f"/desk/tickets/{n}/reply", data={"csrf": csrf, "body": "On it"})
        assert sent.status_code == 303
        noted = await client.post(
            f"/desk/tickets/{n}/reply", data={"csrf": csrf, "body": "Card 7", "internal": "1"}
        )
        assert noted.status_code == 303
        empty = await client.post(f"/desk/tickets/{n}/reply", data={"csrf": csrf, "body": " "})
        assert empty.status_code == 422 and 'id="message-error"' in empty.text
        saved = await client.post(
            f"/desk/tickets/{n}/properties",
            data={
                "csrf": csrf,
                "status": "in_progress",
                "priority": "high",
                "type": "speed_issue",
                "assignee": ALICE,
            },
        )
        assert saved.status_code == 303
        page = (await client.get(f"/desk/tickets/{n}")).text
        assert '<dd data-field="status">In progress</dd>' in page
        assert '<dd data-field="priority">High</dd>' in page
        assert '<dd data-field="type">Speed issue</dd>' in page
        assert f'<dd data-field="assignee">{ALICE}</dd>' in page
        assert re.search(r'class="message internal">.*?Internal</span>.*?Card 7', page, re.S)
        refused = await client.post(
            f"/desk/tickets/{n}/properties",
            data={
                "csrf": csrf,
                "status": "in_progress",
                "priority": "high",
                "type": "installation_request",
                "assignee": ALICE,
            },
        )
        assert refused.status_code == 422 and 'id="p-type-error"' in refused.text
        unknown = await client.post(
            "/desk/new",
            data={
                "csrf": csrf,
                "key": "k1",
                "customer_email": "who@nowhere.test",
                "title": "Help",
                "priority": "normal",
                "type": "general_inquiry",
            },
        )
        assert unknown.status_code == 422 and 'id="customer_email-error"' in unknown.text
        created = await client.post(
            "/desk/new",
            data={
                "csrf": csrf,
                "key": "k2",
                "customer_email": "JANE@example.com",
                "title": "Modem swap",
                "description": "Old modem",
                "priority": "low",
                "type": "equipment_issue",
            },
        )
        assert created.status_code == 303
        again = await client.post(
            "/desk/new",
            data={
                "csrf": csrf,
                "key": "k2",
                "customer_email": "JANE@example.com",
                "title": "Modem swap",
                "description": "Old modem",
                "priority": "low",
                "type": "equipment_issue",
            },
        )
        assert again.headers["location"] == created.headers["location"]  # one ticket
    assert await messages_of(desk, n) == ["The DSL light blinks.", "On it", "Card 7"]
    number = created.headers["location"].rsplit("/", 1)[1]
    async with desk.ports.sessions() as session:
        made = (await ticket_detail(session, Principal.platform(), number)).ticket
    assert (made.channel.value, made.customer_id, made.priority.value) == ("web", "42", "low")


async def test_signed_out_requests_go_to_sign_in(desk: Desk) -> None:
    async with httpx.AsyncClient(base_url=desk.url) as client:
        for path in ("/desk", "/desk/new", "/desk/tickets/TKT-000001"):
            response = await client.get(path)
            assert response.status_code == 303 and response.headers["location"] == "/desk/login"
        assert (await client.get("/desk/live")).status_code == 401
