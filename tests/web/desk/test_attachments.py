"""The desk's files over HTTP: replies and notes carry them, the page links them, downloads
stay within the session's tenant, and customers never see a note's files."""

from __future__ import annotations

import re

import pytest

from tests.web.desk.conftest import GLORIA, Desk, field, sign_in
from ticketing.auth.principal import Principal
from ticketing.core.errors import NotFound
from ticketing.readmodels.ticket_detail import ticket_detail
from ticketing.tickets.attachments.service import AttachmentService, safe_filename

CUSTOMER = Principal.customer("acme", "42")
HOSTILE = safe_filename("<b>x</b>.html")


def links(html: str, number: str) -> dict[str, str]:
    """Each attachment link on the page: filename → href."""
    pattern = rf'<a href="(/desk/tickets/{number}/attachments/[0-9a-f-]+)">([^<]+)</a>'
    return {name: href for href, name in re.findall(pattern, html)}


async def test_a_reply_and_a_note_carry_files_the_page_links_and_downloads(desk: Desk) -> None:
    ticket = await desk.ticket()
    n = ticket.ticket_number
    async with desk.client() as client:
        await sign_in(client)
        csrf = field((await client.get(f"/desk/tickets/{n}")).text, "csrf")
        sent = await client.post(
            f"/desk/tickets/{n}/reply",
            data={"csrf": csrf, "body": "Here are the steps"},
            files=[
                ("attachments", ("steps.txt", b"1. Reboot", "text/plain")),
                ("attachments", ("<b>x</b>.html", b"<script>alert(1)</script>", "text/html")),
            ],
        )
        assert sent.status_code == 303, sent.text
        noted = await client.post(
            f"/desk/tickets/{n}/reply",
            data={"csrf": csrf, "body": "Line card log", "internal": "1"},
            files=[("attachments", ("card.log", b"port 7 down", "text/plain"))],
        )
        assert noted.status_code == 303, noted.text
        page = (await client.get(f"/desk/tickets/{n}")).text
        found = links(page, n)
        assert set(found) == {"steps.txt", HOSTILE, "card.log"}
        # Each file is listed with the ticket and again in its message's timeline entry.
        assert len(re.findall(r'class="files"', page)) == 2
        assert re.search(r"Line card log</p>\s*<ul class=\"files\".*?card\.log", page, re.S)
        plain = await client.get(found["steps.txt"])
        assert plain.status_code == 200 and plain.content == b"1. Reboot"
        assert plain.headers["x-content-type-options"] == "nosniff"
        assert plain.headers["content-disposition"] == "inline; filename*=UTF-8''steps.txt"
        html = await client.get(found[HOSTILE])
        assert html.headers["content-disposition"].startswith("attachment; ")
        assert "sandbox" in html.headers["content-security-policy"]
    async with desk.ports.sessions() as session:
        # As the customer (the read model the API and portal render, and the download): none
        # of the note's files.
        detail = await ticket_detail(session, CUSTOMER, n)
        assert [a.filename for a in detail.attachments] == ["steps.txt", HOSTILE]
        assert [m.body for m in detail.messages if m.attachments] == ["Here are the steps"]
        note_id = found["card.log"].rsplit("/", 1)[1]
        with pytest.raises(NotFound):
            await AttachmentService(session, CUSTOMER).download(n, note_id)


async def test_another_tenants_file_is_the_same_404_as_a_missing_one(desk: Desk) -> None:
    ticket = await desk.ticket()
    n = ticket.ticket_number
    async with desk.client() as client:
        await sign_in(client)
        csrf = field((await client.get(f"/desk/tickets/{n}")).text, "csrf")
        await client.post(
            f"/desk/tickets/{n}/reply",
            data={"csrf": csrf, "body": "Photo"},
            files=[("attachments", ("modem.png", b"\x89PNG", "image/png"))],
        )
        href = links((await client.get(f"/desk/tickets/{n}")).text, n)["modem.png"]
    async with desk.client() as other:
        await sign_in(other, GLORIA)  # of globex
        theirs = await other.get(href)
        missing = await other.get(
            f"/desk/tickets/{n}/attachments/{'0' * 8}-0000-0000-0000-{'0' * 12}"
        )
        malformed = await other.get(f"/desk/tickets/{n}/attachments/nonsense")
        assert theirs.status_code == missing.status_code == malformed.status_code == 404
        assert theirs.text == missing.text == malformed.text
    async with desk.client() as anonymous:
        signed_out = await anonymous.get(href)
        assert signed_out.status_code == 303 and signed_out.headers["location"] == "/desk/login"


async def test_files_over_the_limits_are_refused_and_nothing_is_sent(desk: Desk) -> None:
    ticket = await desk.ticket()
    n = ticket.ticket_number
    async with desk.client() as client:
        await sign_in(client)
        csrf = field((await client.get(f"/desk/tickets/{n}")).text, "csrf")
        too_many = await client.post(
            f"/desk/tickets/{n}/reply",
            data={"csrf": csrf, "body": "Many"},
            files=[("attachments", (f"f{i}.txt", b"x", "text/plain")) for i in range(11)],
        )
        assert too_many.status_code == 422 and 'id="attachments-error"' in too_many.text
        assert "At most 10 files." in too_many.text
        # More than Starlette reads at all (the limit and one): the same field, the same answer.
        far_too_many = await client.post(
            f"/desk/tickets/{n}/reply",
            data={"csrf": csrf, "body": "Many more"},
            files=[("attachments", (f"f{i}.txt", b"x", "text/plain")) for i in range(12)],
        )
        assert far_too_many.status_code == 422 and 'id="attachments-error"' in far_too_many.text
        forged = await client.post(
            f"/desk/tickets/{n}/reply",
            data={"csrf": "x", "body": "Forged"},
            files=[("attachments", ("a.txt", b"x", "text/plain"))],
        )
        assert forged.status_code == 403
    async with desk.ports.sessions() as session:
        detail = await ticket_detail(session, Principal.platform(), n)
    assert [m.body for m in detail.messages] == ["The DSL light blinks."]
    assert detail.attachments == []


async def test_a_reply_may_carry_more_than_the_apis_body_limit(desk: Desk) -> None:
    ticket = await desk.ticket()
    n = ticket.ticket_number
    big = b"x" * (3 * 1024 * 1024)  # over the API's 1 MiB, under a file's 10 MiB
    async with desk.client() as client:
        await sign_in(client)
        csrf = field((await client.get(f"/desk/tickets/{n}")).text, "csrf")
        sent = await client.post(
            f"/desk/tickets/{n}/reply",
            data={"csrf": csrf, "body": "The capture"},
            files=[("attachments", ("capture.pcap", big, "application/vnd.tcpdump.pcap"))],
        )
        assert sent.status_code == 303, sent.text
        href = links((await client.get(f"/desk/tickets/{n}")).text, n)["capture.pcap"]
        assert (await client.get(href)).content == big
        # Other desk pages keep the API's limit.
        props = await client.post(f"/desk/tickets/{n}/properties", content=b"x" * (2 * 1024 * 1024))
        assert props.status_code == 413
