"""Share text: literal user text in plain text and Markdown; the CLI verb prints both."""

from __future__ import annotations

import asyncio
import json

from markdown_it import MarkdownIt
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from tests.web.tracking.conftest import seed
from ticketing.auth.principal import Principal
from ticketing.tickets.flows import TicketFlows
from ticketing.tickets.schemas import TicketInfo
from ticketing.tickets.share import share_text
from ticketing_ops.cli import app

HOSTILE = (
    "<script>alert(1)</script> *bold* _em_ [click](http://evil.test) ![x](http://evil.test/i.png)"
    " www.evil.test `code` # heading\n| a | b |\n\u2028line\x1b[31m"
)


class NoWatchers:
    async def ensure(self, ticket: TicketInfo) -> None:
        return None

    async def wake(self, ticket: TicketInfo) -> None:
        return None


class NoNotices:
    async def hand_over(self, ticket_id: object) -> None:
        return None

    async def send_counted(self, notification_ids: list[int]) -> None:
        return None


async def hostile_ticket(sessions: async_sessionmaker[AsyncSession]) -> TicketInfo:
    await seed(sessions)
    flows = TicketFlows(sessions, Principal.platform(), watchers=NoWatchers(), notices=NoNotices())
    return await flows.create(
        {
            "title": HOSTILE[:200],
            "customer_id": 42,
            "tenant_id": "acme",
            "ticket_type": "technical_support",
            "priority": "high",
        }
    )


async def test_markdown_shows_the_title_literally_and_links_only_the_tracking_page(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    ticket = await hostile_ticket(committed)
    shared = share_text(ticket, "https://help.acme.test/")
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(shared.markdown)
    assert "<script" not in html and "<img" not in html and "<em>" not in html
    assert "<h1" not in html and "<table" not in html and "<code>" not in html
    assert html.count("<a ") == 1
    assert 'href="https://help.acme.test/track?tenant=acme&amp;number=TKT-000001"' in html
    # A zero-width space keeps a bare URL in the title from becoming a link under GFM.
    assert "&lt;script&gt;alert(1)&lt;/script&gt; *bold* _em_ [click](http\u200b://evil" in html
    assert "www\u200b.evil.test `code` # heading | a | b | line" in html
    assert "<strong>TKT-000001</strong>" in html and "<strong>High</strong>" in html
    assert "Category: Technical support" in html and "<strong>Open</strong>" in html


async def test_plain_text_keeps_the_title_as_text_on_one_line(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    ticket = await hostile_ticket(committed)
    text = share_text(ticket, "https://help.acme.test").text
    lines = text.split("\n")
    assert len(lines) == 3
    assert lines[0].startswith("Ticket TKT-000001: <script>alert(1)</script> *bold* _em_")
    assert "\x1b" not in text and "\u2028" not in text
    assert lines[1] == "Status: Open · Priority: High · Category: Technical support"
    assert lines[2] == (
        "Follow it here: https://help.acme.test/track?tenant=acme&number=TKT-000001"
    )


async def test_the_cli_verb_prints_text_and_json(
    committed: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await hostile_ticket(committed)
    env = {"TICKETING_DATABASE_URL": database_url, "TICKETING_PUBLIC_URL": "https://t.acme.test"}
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, list(args), env=env)
        return result.exit_code, result.stdout, result.stderr

    code, out, _ = await asyncio.to_thread(invoke, "ticket", "share", "TKT-000001", "--json")
    assert code == 0, out
    shared = json.loads(out)
    assert set(shared) == {"text", "markdown"}
    assert "https://t.acme.test/track?tenant=acme&number=TKT-000001" in shared["text"]
    code, out, _ = await asyncio.to_thread(invoke, "ticket", "share", "TKT-000001")
    assert code == 0 and out.startswith("Ticket TKT-000001: <script>") and "\x1b" not in out
    code, out, err = await asyncio.to_thread(invoke, "ticket", "share", "TKT-000404")
    assert (code, out) == (2, "") and err.startswith("error: ")
