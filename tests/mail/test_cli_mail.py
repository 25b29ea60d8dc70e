"""`ticketing mailbox …` and `ticketing mail …` through the CLI, on a real PostgreSQL and a
real SMTP server for the notices; Temporal is down on purpose (the contract: still exit 0)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner, Result

from tests.conftest import truncate
from tests.mail import messages as m
from tests.notifications.smtp_support import RecordingHandler, smtp_server
from tests.ops.support import in_thread
from ticketing_ops.cli import app
from ticketing_ops.devstack import find_free_port


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[RecordingHandler, int]]:
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        yield handler, port


@pytest.fixture(scope="module")
def env(database_url: str, smtp: tuple[RecordingHandler, int]) -> dict[str, str]:
    return {
        "TICKETING_DATABASE_URL": database_url,
        # Nobody listens there: after-commit duties fail, the reconciler would repair them.
        "TEMPORAL_ADDRESS": f"127.0.0.1:{find_free_port()}",
        "TICKETING_SMTP_URL": f"smtp://127.0.0.1:{smtp[1]}",
        "TICKETING_SMTP_SENDER": "tickets@acme.test",
        "TICKETING_SECRET_KEY": "a-test-secret-of-at-least-thirty-two-characters",
    }


@pytest.fixture
def cli(env: dict[str, str], owner_url: str) -> Iterator[Any]:
    runner = CliRunner()

    def invoke(*args: str, input: bytes | str | None = None, **more: str) -> Result:
        return in_thread(lambda: runner.invoke(app, list(args), env={**env, **more}, input=input))

    async def empty() -> None:
        engine = create_async_engine(owner_url)
        await truncate(engine)
        await engine.dispose()

    in_thread(asyncio.run, empty())
    assert invoke("tenant", "add", "acme", "--support-email", "desk@acme.test").exit_code == 0
    assert invoke("tenant", "add", "globex").exit_code == 0
    yield invoke
    in_thread(asyncio.run, empty())


def ok(result: Result) -> Any:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_mailbox_add_is_idempotent_and_an_address_has_one_tenant(cli: Any) -> None:
    first = ok(cli("mailbox", "add", "Support@Acme.test", "--tenant", "acme", "--json"))
    assert first == {
        "address": "support@acme.test",
        "tenant_id": "acme",
        "senders": "customers",
        "domains": [],
        "require_auth": False,
        "imap": None,
    }
    again = cli(
        "mailbox",
        "add",
        "support@acme.test",
        "--tenant",
        "acme",
        "--senders",
        "domains",
        "--domain",
        "Partner.example",
        "--require-auth",
        "--json",
    )
    assert ok(again)["domains"] == ["partner.example"]
    taken = cli("mailbox", "add", "support@acme.test", "--tenant", "globex")
    assert taken.exit_code == 2
    assert taken.stderr.strip() == (
        "error: address: already belongs to another tenant (got 'support@acme.test')"
    )
    bad = cli("mailbox", "add", "support@acme.test", "--tenant", "acme", "--senders", "all")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: senders:")
    listed = ok(cli("mailbox", "list", "--tenant", "acme", "--json"))
    assert [(b["address"], b["senders"], b["require_auth"]) for b in listed] == [
        ("support@acme.test", "domains", True)
    ]
    assert ok(cli("mailbox", "list", "--tenant", "globex", "--json")) == []


def test_imap_mailbox_keeps_the_password_encrypted(cli: Any, owner_url: str) -> None:
    added = cli(
        "mailbox",
        "add",
        "desk@globex.test",
        "--tenant",
        "globex",
        "--imap",
        "imaps://desk%40globex.test@imap.globex.test/Support",
        "--imap-password-stdin",
        "--json",
        input="s3cret-pw\n",
    )
    assert ok(added)["imap"] == "imaps://desk@globex.test@imap.globex.test:993/Support"

    async def stored() -> str:
        from sqlalchemy import text

        engine = create_async_engine(owner_url)
        async with engine.connect() as c:
            value = (await c.execute(text("SELECT imap_password FROM mailboxes"))).scalar()
        await engine.dispose()
        return str(value)

    assert "s3cret-pw" not in in_thread(asyncio.run, stored())
    missing = cli(
        "mailbox", "add", "x@globex.test", "--tenant", "globex", "--imap", "imaps://u@h/INBOX"
    )
    assert missing.exit_code == 2 and missing.stderr.startswith("error: imap_password:")


def test_mail_receive_exit_statuses_and_json(cli: Any, smtp: tuple[RecordingHandler, int]) -> None:
    handler, _ = smtp
    handler.received.clear()
    ok(
        cli(
            "mailbox",
            "add",
            "support@acme.test",
            "--tenant",
            "acme",
            "--senders",
            "anyone",
            "--json",
        )
    )
    created = cli("mail", "receive", "--json", input=m.plain())
    assert ok(created) == {"outcome": "created", "ticket_number": "TKT-000001", "reason": None}
    # The customer heard once, from the tenant's mailbox, in the ticket's thread.
    [notice] = handler.received
    assert notice.recipients == ["jane@example.com"]
    assert notice.message["Subject"].startswith("[TKT-000001]")
    assert notice.message["From"].addresses[0].addr_spec == "support@acme.test"
    assert str(notice.message["Reply-To"]) == "support@acme.test"
    assert notice.sender == "support@acme.test"  # the envelope: reports come back to intake
    assert str(notice.message["In-Reply-To"]) == "<m1@mail.example.com>"
    assert str(notice.message["References"]).endswith(" <m1@mail.example.com>")

    duplicate = cli(
        "mail", "receive", "--recipient", "support@acme.test", "--json", input=m.plain()
    )
    assert ok(duplicate)["outcome"] == "duplicate"
    # An out-of-office reply from the customer: ignored, and no mail at all goes out.
    ignored = ok(cli("mail", "receive", "--json", input=m.out_of_office()))
    assert ignored == {
        "outcome": "ignored",
        "ticket_number": None,
        "reason": "Auto-Submitted: auto-replied",
    }
    assert len(handler.received) == 1

    nobody = cli("mail", "receive", "--recipient", "nobody@acme.test", input=m.plain())
    assert nobody.exit_code == 67
    assert nobody.stderr.strip() == "error: recipient: no mailbox for nobody@acme.test"

    down = cli(
        "mail",
        "receive",
        input=m.plain(message_id="<later@x>"),
        TICKETING_DATABASE_URL=f"postgresql+asyncpg://x:y@127.0.0.1:{find_free_port()}/none",
    )
    assert down.exit_code == 75 and down.stderr.startswith("error: database:")

    text = cli("mail", "receive", input=m.plain(message_id="<t2@x>", subject="Second"))
    assert text.exit_code == 0 and text.stdout.strip() == "created TKT-000002"


def test_oversize_mail_is_rejected_with_exit_zero(cli: Any) -> None:
    ok(cli("mailbox", "add", "support@acme.test", "--tenant", "acme", "--json"))
    result = cli(
        "mail",
        "receive",
        "--json",
        input=m.plain(body="y" * 4000),
        TICKETING_MAIL_MAX_BYTES="2048",
    )
    body = ok(result)
    assert body["outcome"] == "rejected" and body["reason"].startswith("over the size limit")


def test_held_mail_is_listed_and_released(cli: Any) -> None:
    ok(cli("mailbox", "add", "support@acme.test", "--tenant", "acme", "--json"))
    held = ok(cli("mail", "receive", "--json", input=m.plain("eve@evil.example")))
    assert held["outcome"] == "held"
    [row] = ok(cli("mail", "list", "--tenant", "acme", "--outcome", "held", "--json"))
    assert (row["sender"], row["outcome"], row["mailbox"]) == (
        "eve@evil.example",
        "held",
        "support@acme.test",
    )
    assert row["reason"].startswith("not authorized")
    assert ok(cli("mail", "list", "--tenant", "globex", "--json")) == []
    released = ok(cli("mail", "release", str(row["id"]), "--json"))
    assert (released["outcome"], released["ticket_number"]) == ("created", "TKT-000001")
    again = cli("mail", "release", str(row["id"]))
    assert again.exit_code == 2 and again.stderr.startswith("error: id:")
    missing = cli("mail", "release", "999999")
    assert missing.exit_code == 2 and missing.stderr.startswith("error: id: no mail")
    bad = cli("mail", "list", "--outcome", "lost")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: outcome:")


def test_notices_answer_in_the_customers_thread(
    cli: Any, smtp: tuple[RecordingHandler, int]
) -> None:
    handler, _ = smtp
    ok(
        cli(
            "mailbox",
            "add",
            "support@acme.test",
            "--tenant",
            "acme",
            "--senders",
            "anyone",
            "--json",
        )
    )
    ok(cli("mail", "receive", "--json", input=m.plain()))
    reply = m.gmail_reply("jane@example.com", "Re: [TKT-000001] x", "<m1@mail.example.com>")
    assert ok(cli("mail", "receive", "--json", input=reply))["outcome"] == "appended"
    handler.received.clear()
    answered = cli("ticket", "reply", "TKT-000001", "--body", "We reset it.", "--actor", "tenant")
    assert answered.exit_code == 0, answered.stderr
    [notice] = [r for r in handler.received if r.recipients == ["jane@example.com"]]
    assert str(notice.message["In-Reply-To"]) == "<gmail-r1@mail.gmail.com>"
    assert notice.message["Subject"].startswith("[TKT-000001] ")
    assert "We reset it." in notice.message.get_body(("plain",)).get_content()


def test_a_bounced_address_is_listed_and_unflagged(
    cli: Any, smtp: tuple[RecordingHandler, int]
) -> None:
    handler, _ = smtp
    ok(
        cli(
            "mailbox",
            "add",
            "support@acme.test",
            "--tenant",
            "acme",
            "--senders",
            "anyone",
            "--json",
        )
    )
    ok(cli("mail", "receive", "--json", input=m.plain()))
    handler.received.clear()
    answered = cli("ticket", "reply", "TKT-000001", "--body", "We reset it.", "--actor", "tenant")
    assert answered.exit_code == 0, answered.stderr
    [notice] = [r for r in handler.received if r.recipients == ["jane@example.com"]]
    report = m.dsn("jane@example.com", str(notice.message["Message-ID"]))
    assert ok(cli("mail", "receive", "--json", input=report))["outcome"] == "bounce"
    [flag] = ok(cli("mail", "bounced", "--tenant", "acme", "--json"))
    assert (flag["address"], flag["reports"]) == ("jane@example.com", 1)
    assert "5.1.1" in flag["reason"]
    assert ok(cli("mail", "bounced", "--tenant", "globex", "--json")) == []
    assert "jane@example.com" in cli("mail", "bounced").stdout
    handler.received.clear()
    cli("ticket", "reply", "TKT-000001", "--body", "Still there?", "--actor", "tenant")
    assert not [r for r in handler.received if r.recipients == ["jane@example.com"]]
    cleared = ok(cli("mail", "unflag", "Jane@Example.com", "--tenant", "acme", "--json"))
    assert cleared == {"address": "jane@example.com", "tenant_id": "acme", "flagged": False}
    again = cli("mail", "unflag", "jane@example.com", "--tenant", "acme")
    assert again.exit_code == 2 and again.stderr.startswith("error: address: no bounced address")
    assert ok(cli("mail", "bounced", "--json")) == []
