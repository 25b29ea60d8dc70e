"""The CLI prints user text as text: no markup, no escape sequences (real PostgreSQL, Temporal)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner, Result

from tests.ops.support import in_thread
from tests.services import Services
from ticketing_ops.cli import app, plain_text

HOSTILE_TITLE = "x [/] [bold]y[/bold] \x1b[31mred\x1b]0;pwn\x07"
SHOWN_TITLE = "x [/] [bold]y[/bold] red"
HOSTILE_DESCRIPTION = "line one :smile: [link=http://evil.test]click[/link]\nline two\x1b[2J\x9b1m"
# Anything a terminal would act on: C0 except \t and \n, DEL, C1 (CSI 0x9b, OSC 0x9d …).
TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

Cli = Callable[..., Result]


@pytest.fixture(scope="module")
def cli(database_url: str, temporal_server: str) -> Cli:
    runner = CliRunner()

    def invoke(*args: str, columns: int = 200) -> Result:
        env = {
            "TICKETING_DATABASE_URL": database_url,
            "TEMPORAL_ADDRESS": temporal_server,
            "TICKETING_TASK_QUEUE": "cli-text-tests",
            "COLUMNS": str(columns),
        }
        return in_thread(lambda: runner.invoke(app, list(args), env=env))

    return invoke


async def create_ticket(
    sessions: async_sessionmaker[AsyncSession], title: str, description: str = ""
) -> str:
    async with sessions() as s, s.begin():
        service = Services(s)
        await service.tenants.register_tenant("acme", name="Acme ISP")
        await service.tenants.upsert_customer(
            tenant_id="acme", customer_id="42", email="jane@example.com"
        )
        info = await service.tickets.create_ticket(
            {
                "title": title,
                "description": description,
                "customer_id": "42",
                "tenant_id": "acme",
                "channel": "api",
            }
        )
    return info.ticket_number


@pytest.fixture
async def hostile_ticket(committed: async_sessionmaker[AsyncSession]) -> str:
    return await create_ticket(committed, HOSTILE_TITLE, HOSTILE_DESCRIPTION)


def assert_terminal_safe(result: Result) -> None:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    for stream in (result.stdout, result.stderr):
        assert TERMINAL_CONTROL.search(stream) is None, repr(stream)
        assert "pwn" not in stream  # the OSC sequence went as a whole, not just its ESC


@pytest.mark.parametrize("columns", [80, 200])
async def test_tickets_list_prints_a_hostile_title_literally(
    cli: Cli, hostile_ticket: str, columns: int
) -> None:
    result = cli("tickets", "list", columns=columns)
    assert_terminal_safe(result)
    assert hostile_ticket in result.stdout
    if columns >= 120:
        assert SHOWN_TITLE in result.stdout
    else:  # the title column folds; every word is still there, brackets and all
        assert all(word in result.stdout for word in SHOWN_TITLE.split()), result.stdout


async def test_escape_sequences_alone_never_reach_the_terminal(
    cli: Cli, committed: async_sessionmaker[AsyncSession]
) -> None:
    number = await create_ticket(committed, "plain \x1b[31mred\x1b[0m \x1b]0;pwn\x07title")
    for verb in (("tickets", "list"), ("ticket", "show", number)):
        result = cli(*verb)
        assert_terminal_safe(result)
        assert "plain red title" in result.stdout


async def test_ticket_show_prints_user_text_literally(cli: Cli, hostile_ticket: str) -> None:
    result = cli("ticket", "show", hostile_ticket)
    assert_terminal_safe(result)
    assert f"{hostile_ticket} {SHOWN_TITLE}" in result.stdout
    # Multi-line text keeps its line breaks; markup and emoji codes stay as typed.
    assert "line one :smile: [link=http://evil.test]click[/link]\nline two\n" in result.stdout


async def test_json_keeps_the_stored_values_exactly(cli: Cli, hostile_ticket: str) -> None:
    listed = cli("tickets", "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert [t["title"] for t in json.loads(listed.stdout)["items"]] == [HOSTILE_TITLE]
    shown = cli("ticket", "show", hostile_ticket, "--json")
    assert shown.exit_code == 0, shown.stderr
    ticket = json.loads(shown.stdout)["ticket"]
    assert (ticket["title"], ticket["description"]) == (HOSTILE_TITLE, HOSTILE_DESCRIPTION)


async def test_a_hostile_reply_and_author_are_shown_as_text(cli: Cli, hostile_ticket: str) -> None:
    body = "first\r\nsecond [/] \x1b]8;;http://evil.test\x1b\\link\x1b]8;;\x1b\\"
    replied = cli(
        "ticket", "reply", hostile_ticket, "--body", body, "--author", "[red]eve\x1b[0m\x08"
    )
    assert_terminal_safe(replied)
    assert f"{hostile_ticket} replied: status open" in replied.stdout
    shown = cli("ticket", "show", hostile_ticket)
    assert_terminal_safe(shown)
    assert "tenant [red]eve" in shown.stdout
    lines = shown.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if "│ first " in line)
    assert "second [/] link" in lines[first + 1], shown.stdout  # the body's line break is kept


async def test_an_error_echoing_a_value_is_one_safe_line(cli: Cli, hostile_ticket: str) -> None:
    result = cli("ticket", "show", "TKT-\x1b[31m[/]\nx")
    assert result.exit_code == 2
    assert TERMINAL_CONTROL.search(result.stderr) is None, repr(result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("raw", "multiline", "shown"),
    [
        (HOSTILE_TITLE, False, SHOWN_TITLE),
        ("a\r\nb\rc\nd\te", False, "a⏎b⏎c⏎d e"),
        ("a\r\nb\rc\nd\te", True, "a\nb\nc\nd\te"),
        ("\x9b31mred\x9dtitle\x9cok", False, "redok"),  # C1 CSI and OSC … ST
        ("\x1bP1$r\x1b\\dcs\x1b(Bcharset\x1bcreset", False, "dcscharsetreset"),
        ("unterminated \x1b]0;title", False, "unterminated 0;title"),
        ("nul\x00 del\x7f bell\x07", False, "nul del bell"),
        ("caf\udce9", False, "caf\ufffd"),
        ("[bold]é 😀 :smile:[/]", False, "[bold]é 😀 :smile:[/]"),
    ],
)
def test_plain_text(raw: str, multiline: bool, shown: str) -> None:
    assert plain_text(raw, multiline=multiline) == shown
