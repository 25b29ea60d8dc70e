"""The SMTP intake against smtplib: 550, 552, 451 and 250 only once the outcome is committed."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.mail import messages as m
from tests.mail.conftest import RecordingPorts, Sessions, scalar
from ticketing.auth.principal import Principal
from ticketing.db.engine import make_engine, make_sessionmaker
from ticketing.mail.flows import IntakeConfig, MailIntake
from ticketing.mail.mailboxes import MailboxService
from ticketing.runtime.settings import Settings
from ticketing.smtp.server import smtp_intake
from ticketing_ops.devstack import find_free_port

MAX_BYTES = 8192


@pytest_asyncio.fixture
async def smtp_port(seeded: Sessions, ports: RecordingPorts) -> AsyncIterator[int]:
    intake = MailIntake(
        seeded, watchers=ports, notices=ports, config=IntakeConfig(max_bytes=MAX_BYTES)
    )
    port = find_free_port()
    async with smtp_intake(intake, host="127.0.0.1", port=port, max_bytes=MAX_BYTES):
        yield port


def send(port: int, recipients: list[str], raw: bytes) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        return client.sendmail("jane@example.com", recipients, raw)


async def test_accepted_mail_is_committed_before_the_250(smtp_port: int, seeded: Sessions) -> None:
    refused = await asyncio.to_thread(send, smtp_port, ["support@acme.test"], m.plain())
    assert refused == {}
    # By the time the client has its 250 the ticket is there.
    assert await scalar(seeded, "SELECT count(*) FROM tickets") == 1
    assert await scalar(seeded, "SELECT outcome FROM inbound_mails") == "created"


async def test_one_mail_to_two_mailboxes_of_a_tenant_is_one_ticket(
    smtp_port: int, seeded: Sessions
) -> None:
    raw = m.plain(to="support@acme.test, help@acme.test")
    await asyncio.to_thread(send, smtp_port, ["support@acme.test", "help@acme.test"], raw)
    # The MTA retries the whole message (say, after a lost 250): still one ticket.
    await asyncio.to_thread(send, smtp_port, ["help@acme.test"], raw)
    assert await scalar(seeded, "SELECT count(*) FROM tickets") == 1
    assert await scalar(seeded, "SELECT count(*) FROM inbound_mails") == 1


async def test_an_unknown_mailbox_is_refused_at_rcpt(smtp_port: int, seeded: Sessions) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        await asyncio.to_thread(send, smtp_port, ["nobody@acme.test"], m.plain())
    assert caught.value.recipients["nobody@acme.test"][0] == 550
    # A known mailbox next to an unknown one: delivered there, refused here.
    refused = await asyncio.to_thread(
        send, smtp_port, ["nobody@acme.test", "support@acme.test"], m.plain()
    )
    assert refused["nobody@acme.test"][0] == 550
    assert await scalar(seeded, "SELECT count(*) FROM tickets") == 1


async def test_a_mailbox_added_while_serving_is_found_at_rcpt(
    smtp_port: int, seeded: Sessions
) -> None:
    # RCPT remembers only the addresses that are mailboxes: a refusal is never remembered.
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        await asyncio.to_thread(send, smtp_port, ["late@acme.test"], m.plain())
    async with seeded() as s, s.begin():
        await MailboxService(s, Principal.platform()).add("late@acme.test", tenant_id="acme")
    raw = m.plain(to="late@acme.test")
    assert await asyncio.to_thread(send, smtp_port, ["late@acme.test"], raw) == {}
    assert await scalar(seeded, "SELECT mailbox FROM inbound_mails") == "late@acme.test"
    # Remembered now: the next RCPT to it is answered without a lookup, and what the mailbox
    # allows is still read at DATA (a second message, another ticket).
    again = m.plain(to="late@acme.test", message_id="<second@example.com>")
    assert await asyncio.to_thread(send, smtp_port, ["late@acme.test"], again) == {}
    assert await scalar(seeded, "SELECT count(*) FROM tickets") == 2


async def test_a_message_over_the_limit_is_refused_with_552(
    smtp_port: int, seeded: Sessions
) -> None:
    big = m.plain(body="z" * (MAX_BYTES * 2))
    # A client that declares the size (SIZE=…) is refused at MAIL FROM …
    with pytest.raises(smtplib.SMTPSenderRefused) as caught:
        await asyncio.to_thread(send, smtp_port, ["support@acme.test"], big)
    assert caught.value.smtp_code == 552

    # … one that does not, after DATA.
    def undeclared() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as client:
            client.ehlo()
            client.mail("jane@example.com")
            client.rcpt("support@acme.test")
            return client.data(big)

    code, _ = await asyncio.to_thread(undeclared)
    assert code == 552
    assert await scalar(seeded, "SELECT count(*) FROM inbound_mails") == 0


async def test_storage_unavailable_is_a_temporary_451(ports: RecordingPorts) -> None:
    unreachable = f"postgresql+asyncpg://nobody:x@127.0.0.1:{find_free_port()}/none"
    engine = make_engine(unreachable, Settings(db_pool_size=1, db_max_overflow=0))
    intake = MailIntake(make_sessionmaker(engine), watchers=ports, notices=ports)
    port = find_free_port()
    try:
        async with smtp_intake(intake, host="127.0.0.1", port=port, max_bytes=MAX_BYTES):
            with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
                await asyncio.to_thread(send, port, ["support@acme.test"], m.plain())
    finally:
        await engine.dispose()
    assert caught.value.recipients["support@acme.test"][0] == 451


async def test_outcomes_are_counted(seeded: Sessions, ports: RecordingPorts) -> None:
    from ticketing.runtime.observability import MailMetrics

    metrics = MailMetrics()
    intake = MailIntake(seeded, watchers=ports, notices=ports, on_outcome=metrics.count)
    await intake.receive(m.plain())
    await intake.receive(m.plain())
    await intake.receive(m.out_of_office())
    text = metrics.render().decode()
    assert 'ticketing_mail_received_total{outcome="created"} 1.0' in text
    assert 'ticketing_mail_received_total{outcome="duplicate"} 1.0' in text
    assert 'ticketing_mail_received_total{outcome="ignored"} 1.0' in text
