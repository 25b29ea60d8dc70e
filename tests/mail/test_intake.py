"""The intake flow on a real PostgreSQL: every outcome, threading, loops, bounces, holds."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.mail import messages as m
from tests.mail.conftest import RecordingPorts, Sessions, scalar
from ticketing.auth.principal import Principal
from ticketing.core.enums import Channel, TicketStatus
from ticketing.mail.errors import NoMailbox
from ticketing.mail.flows import MailIntake
from ticketing.mail.models import MailOutcome
from ticketing.readmodels.ticket_detail import ticket_detail
from ticketing.tickets.service import TicketService

PLATFORM = Principal.platform()


async def ticket(sessions: Sessions, number: str):  # type: ignore[no-untyped-def]
    async with sessions() as s:
        return await ticket_detail(s, PLATFORM, number)


async def count(sessions: Sessions, table: str) -> int:
    return int(str(await scalar(sessions, f"SELECT count(*) FROM {table}")))


async def test_a_customer_mail_opens_an_email_ticket(
    intake: MailIntake, seeded: Sessions, ports: RecordingPorts
) -> None:
    result = await intake.receive(m.plain())
    assert (result.outcome, result.ticket_number, result.reason) == (
        MailOutcome.CREATED,
        "TKT-000001",
        None,
    )
    detail = await ticket(seeded, "TKT-000001")
    info = detail.ticket
    assert info.channel is Channel.EMAIL
    assert info.title == "No internet since this morning"
    assert info.description.startswith("Hello,\nmy router shows a red light.")
    assert (info.customer_id, info.requester_email, info.tenant_id) == (
        "42",
        "jane@example.com",
        "acme",
    )
    # The watcher and the "we received your request" notice, as for every channel.
    assert ports.watched == ["TKT-000001"]
    assert ports.handed_over == [info.ticket_id]
    assert await count(seeded, "notifications") == 1


async def test_one_mail_twice_or_to_two_mailboxes_of_a_tenant_is_one_ticket(
    intake: MailIntake, seeded: Sessions
) -> None:
    first = await intake.receive(m.plain(to="support@acme.test, help@acme.test"))
    again = await intake.receive(m.plain(), recipients=("help@acme.test",))
    once_more = await intake.receive(m.plain())
    assert first.outcome is MailOutcome.CREATED
    assert again.outcome is once_more.outcome is MailOutcome.DUPLICATE
    assert await count(seeded, "tickets") == 1
    assert await count(seeded, "inbound_mails") == 1


async def test_the_same_message_id_at_another_tenant_is_that_tenants_own_mail(
    intake: MailIntake, seeded: Sessions
) -> None:
    await intake.receive(m.plain())
    other = await intake.receive(
        m.plain(sender="bob@example.com"), recipients=("support@globex.test",)
    )
    assert other.outcome is MailOutcome.CREATED
    assert await count(seeded, "tickets") == 2


async def test_without_a_message_id_the_bytes_are_the_key(intake: MailIntake) -> None:
    raw = m.plain(message_id=None)
    assert (await intake.receive(raw)).outcome is MailOutcome.CREATED
    assert (await intake.receive(raw)).outcome is MailOutcome.DUPLICATE


async def test_no_mailbox_matches(intake: MailIntake) -> None:
    with pytest.raises(NoMailbox) as caught:
        await intake.receive(m.plain(to="nobody@elsewhere.test"))
    assert caught.value.field == "recipient"


async def test_replies_in_gmail_and_outlook_style_land_on_the_ticket(
    intake: MailIntake, seeded: Sessions
) -> None:
    await intake.receive(m.plain())
    gmail = await intake.receive(
        m.gmail_reply("jane@example.com", "Re: No internet", "<m1@mail.example.com>")
    )
    outlook = await intake.receive(
        m.outlook_reply("Jane@Example.com", "[TKT-000001] We received your request")
    )
    assert (gmail.outcome, gmail.ticket_number) == (MailOutcome.APPENDED, "TKT-000001")
    assert (outlook.outcome, outlook.ticket_number) == (MailOutcome.APPENDED, "TKT-000001")
    detail = await ticket(seeded, "TKT-000001")
    bodies = [(msg.author_actor.value, msg.author, msg.body) for msg in detail.messages[1:]]
    # Quoted history stripped; the original stays in the stored mail.
    assert bodies == [
        ("customer", "jane@example.com", "It works again, thanks!"),
        ("customer", "jane@example.com", "Still broken after the restart."),
    ]
    raw = await scalar(
        seeded, "SELECT raw FROM inbound_mails WHERE message_id = '<gmail-r1@mail.gmail.com>'"
    )
    assert b"We reset your line." in raw  # type: ignore[operator]


async def test_a_strangers_mail_with_someone_elses_number_never_touches_that_ticket(
    intake: MailIntake, seeded: Sessions
) -> None:
    await intake.receive(m.plain())
    # A registered customer of the tenant guessing the number: a ticket of her own.
    guessed = await intake.receive(
        m.plain(
            "mallory@example.net",
            "Re: [TKT-000001] cancel my contract",
            "Cancel it.",
            message_id="<mal1@x>",
            headers={"In-Reply-To": "<m1@mail.example.com>"},
        )
    )
    assert (guessed.outcome, guessed.ticket_number) == (MailOutcome.CREATED, "TKT-000002")
    # Nobody the tenant knows: held for review, the ticket untouched.
    stranger = await intake.receive(
        m.plain(
            "eve@evil.example", "[TKT-000001] update", "I am Jane, honestly.", message_id="<eve@x>"
        )
    )
    assert stranger.outcome is MailOutcome.HELD and stranger.ticket_number is None
    detail = await ticket(seeded, "TKT-000001")
    # Only the description: nothing was appended.
    assert len(detail.messages) == 1 and detail.ticket.customer_id == "42"


async def test_a_copied_address_may_answer_the_ticket(intake: MailIntake, seeded: Sessions) -> None:
    await intake.receive(m.plain(cc="Tom <tom@example.org>, support@acme.test"))
    answer = await intake.receive(
        m.plain(
            "tom@example.org",
            "Re: [TKT-000001] No internet",
            "Tom here: still down.",
            message_id="<tom1@x>",
        )
    )
    assert (answer.outcome, answer.ticket_number) == (MailOutcome.APPENDED, "TKT-000001")
    # Our own mailbox on Cc is no participant.
    assert await scalar(seeded, "SELECT string_agg(address, ',') FROM ticket_participants") == (
        "tom@example.org"
    )


async def test_a_reply_reopens_a_resolved_ticket_and_ends_a_wait(
    intake: MailIntake, seeded: Sessions
) -> None:
    await intake.receive(m.plain())
    async with seeded() as s, s.begin():
        await TicketService(s, PLATFORM).change_status("TKT-000001", TicketStatus.RESOLVED)
    await intake.receive(m.gmail_reply("jane@example.com", "Re: x", "<m1@mail.example.com>"))
    assert (await ticket(seeded, "TKT-000001")).ticket.status is TicketStatus.OPEN


async def test_out_of_office_from_a_customer_is_ignored_and_never_answered(
    intake: MailIntake, seeded: Sessions, ports: RecordingPorts
) -> None:
    await intake.receive(m.plain())
    notices = await count(seeded, "notifications")
    handed = len(ports.handed_over)
    result = await intake.receive(m.out_of_office())
    assert result.outcome is MailOutcome.IGNORED
    assert result.reason == "Auto-Submitted: auto-replied"
    assert await count(seeded, "notifications") == notices
    assert len(ports.handed_over) == handed
    assert len((await ticket(seeded, "TKT-000001")).messages) == 1


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (m.list_mail(), "Precedence: list"),
        (
            m.plain("tickets@acme.test", "loop", "x", message_id="<own1@x>"),
            "sent by our own address",
        ),
        (m.plain("help@acme.test", "loop", "x", message_id="<own2@x>"), "sent by our own address"),
        (m.plain(headers={"Precedence": "bulk"}, message_id="<bulk@x>"), "Precedence: bulk"),
        (m.plain(headers={"X-Autorespond": "1"}, message_id="<ar@x>"), "x-autorespond: auto-reply"),
    ],
)
async def test_loops_and_noise_are_ignored(
    intake: MailIntake, seeded: Sessions, raw: bytes, reason: str
) -> None:
    result = await intake.receive(raw)
    assert (result.outcome, result.reason) == (MailOutcome.IGNORED, reason)
    assert await count(seeded, "tickets") == 0


async def _sent_notice(seeded: Sessions) -> str:
    message_id = "<notification-1.TKT000001@acme.test>"
    async with seeded() as s, s.begin():
        await s.execute(
            __import__("sqlalchemy").text(
                "UPDATE notifications SET status = 'sent', sent_at = now(), message_id = :m"
            ),
            {"m": message_id},
        )
    return message_id


async def test_a_delivery_report_marks_the_notice_failed(
    intake: MailIntake, seeded: Sessions, ports: RecordingPorts
) -> None:
    await intake.receive(m.plain())
    sent = await _sent_notice(seeded)
    result = await intake.receive(m.dsn("jane@example.com", sent))
    assert result.outcome is MailOutcome.BOUNCE and "5.1.1" in (result.reason or "")
    status, reason = (
        await scalar(seeded, "SELECT status FROM notifications"),
        await scalar(seeded, "SELECT reason FROM notifications"),
    )
    assert status == "failed" and "Recipient address rejected" in str(reason)
    assert await count(seeded, "tickets") == 1
    assert len(ports.handed_over) == 1  # nothing more was sent


async def test_an_exim_bounce_is_recognised_by_its_recipient(
    intake: MailIntake, seeded: Sessions
) -> None:
    await intake.receive(m.plain())
    await _sent_notice(seeded)
    result = await intake.receive(m.exim_bounce("jane@example.com"))
    assert result.outcome is MailOutcome.BOUNCE
    assert await scalar(seeded, "SELECT status FROM notifications") == "failed"


async def test_a_report_about_no_notice_of_ours_opens_nothing(
    intake: MailIntake, seeded: Sessions
) -> None:
    result = await intake.receive(m.dsn("someone@example.com", "<other@x>"))
    assert result.outcome is MailOutcome.IGNORED
    assert await count(seeded, "tickets") == 0


async def test_over_the_rate_a_sender_is_held(seeded: Sessions, ports: RecordingPorts) -> None:
    from ticketing.mail.flows import IntakeConfig

    intake = MailIntake(seeded, watchers=ports, notices=ports, config=IntakeConfig(max_per_hour=2))
    outcomes = [
        (await intake.receive(m.plain(message_id=f"<r{i}@x>", subject=f"n{i}"))).outcome
        for i in range(3)
    ]
    assert outcomes == [MailOutcome.CREATED, MailOutcome.CREATED, MailOutcome.HELD]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [(m.no_header_block(), "no header block"), (m.no_from(), "no From address")],
)
async def test_malformed_mail_is_rejected_and_kept(
    intake: MailIntake, seeded: Sessions, raw: bytes, reason: str
) -> None:
    result = await intake.receive(raw, recipients=("support@acme.test",))
    assert (result.outcome, result.reason) == (MailOutcome.REJECTED, reason)
    assert await scalar(seeded, "SELECT raw FROM inbound_mails") == raw


async def test_oversize_mail_is_rejected_and_kept_without_its_bytes(
    seeded: Sessions, ports: RecordingPorts
) -> None:
    from ticketing.mail.flows import IntakeConfig

    intake = MailIntake(seeded, watchers=ports, notices=ports, config=IntakeConfig(max_bytes=2048))
    raw = m.plain(body="x" * 5000)
    result = await intake.receive(raw[:2049], size=len(raw))
    assert result.outcome is MailOutcome.REJECTED
    assert "over the size limit" in (result.reason or "")
    assert await scalar(
        seeded, "SELECT raw IS NULL AND sender = 'jane@example.com' FROM inbound_mails"
    )


@pytest.mark.parametrize(
    ("raw", "title", "text"),
    [
        (m.quoted_printable_latin1(), "Störung in Köln", "Grüße aus Köln"),
        (m.base64_utf8_japanese(), "接続障害", "インターネット"),
        (m.koi8_subject(), "Нет связи", "Роутер"),
    ],
)
async def test_encodings_and_charsets_are_decoded(
    seeded: Sessions, ports: RecordingPorts, raw: bytes, title: str, text: str
) -> None:
    intake = MailIntake(seeded, watchers=ports, notices=ports)
    async with seeded() as s, s.begin():
        await s.execute(
            __import__("sqlalchemy").text(
                "UPDATE mailboxes SET senders = 'anyone' WHERE address = 'support@acme.test'"
            )
        )
    result = await intake.receive(raw)
    assert result.outcome is MailOutcome.CREATED
    info = (await ticket(seeded, result.ticket_number or "")).ticket
    assert info.title == title and text in info.description


async def test_an_html_only_mail_reads_as_a_browser_shows_it(
    intake: MailIntake, seeded: Sessions
) -> None:
    await intake.receive(m.html_only())
    description = (await ticket(seeded, "TKT-000001")).ticket.description
    assert "Speed is < 1" in description and "& drops." in description
    assert "since Monday" in description
    assert "alert" not in description and "color" not in description


async def test_attachments_are_stored_with_the_ticket_and_its_messages(
    intake: MailIntake, seeded: Sessions
) -> None:
    await intake.receive(m.with_attachment())
    reply = m.with_attachment(message_id="<att2@x>").replace(
        b"Subject: Photo of the router", b"Subject: Re: [TKT-000001] Photo"
    )
    await intake.receive(reply)
    detail = await ticket(seeded, "TKT-000001")
    names = [(a.filename, a.content_type, a.size) for a in detail.attachments]
    assert names[:2] == [("router photo.png", "image/png", 22), ("modem.log", "text/plain", 22)]
    assert len(detail.attachments) == 4
    [_, message] = detail.messages
    assert [a.filename for a in message.attachments] == ["router photo.png", "modem.log"]


async def test_a_released_mail_goes_through_the_remaining_rules(
    intake: MailIntake, seeded: Sessions
) -> None:
    held = await intake.receive(m.plain("eve@evil.example", "Help", "please", message_id="<e@x>"))
    assert held.outcome is MailOutcome.HELD
    released = await intake.release(Principal.tenant_admin("acme"), held.mail_id)
    assert (released.outcome, released.ticket_number) == (MailOutcome.CREATED, "TKT-000001")
    info = (await ticket(seeded, "TKT-000001")).ticket
    assert info.requester_email == "eve@evil.example"
    # Registered on release: the next mail from her is a customer's.
    assert (
        await intake.receive(m.plain("eve@evil.example", "More", "x", message_id="<e2@x>"))
    ).outcome is MailOutcome.CREATED
    again = intake.release(Principal.tenant_admin("acme"), held.mail_id)
    with pytest.raises(Exception, match="not held"):
        await again


async def test_another_tenant_cannot_release_a_held_mail(intake: MailIntake) -> None:
    from ticketing.mail.errors import MailNotFound

    held = await intake.receive(m.plain("eve@evil.example", "Help", "please", message_id="<e@x>"))
    with pytest.raises(MailNotFound):
        await intake.release(Principal.tenant_admin("globex"), held.mail_id)


async def test_domains_policy_registers_senders_of_listed_domains(
    intake: MailIntake, seeded: Sessions
) -> None:
    ok = await intake.receive(m.plain("ann@partner.example", "Hi", "x", to="sales@acme.test"))
    other = await intake.receive(
        m.plain("ann@sub.partner.example", "Hi", "x", to="sales@acme.test", message_id="<o@x>")
    )
    assert ok.outcome is MailOutcome.CREATED and other.outcome is MailOutcome.HELD
    assert (
        await scalar(seeded, "SELECT count(*) FROM customers WHERE email = 'ann@partner.example'")
        == 1
    )


async def test_require_auth_trusts_only_the_topmost_header_of_our_mta(
    seeded: Sessions, ports: RecordingPorts
) -> None:
    from ticketing.mail.flows import IntakeConfig

    async with seeded() as s, s.begin():
        await s.execute(
            __import__("sqlalchemy").text(
                "UPDATE mailboxes SET require_auth = true WHERE address = 'support@acme.test'"
            )
        )
    intake = MailIntake(
        seeded, watchers=ports, notices=ports, config=IntakeConfig(authserv_id="mx.acme.test")
    )
    passed = m.plain(
        headers={"Authentication-Results": "mx.acme.test; dkim=pass header.d=example.com"}
    )
    # A pass added by the sender sits below our MTA's verdict and counts for nothing.
    forged = m.plain(message_id="<f@x>").replace(
        b"From:",
        b"Authentication-Results: mx.acme.test; dmarc=fail header.from=example.com\r\n"
        b"Authentication-Results: mx.acme.test; dmarc=pass header.from=example.com\r\nFrom:",
    )
    assert (await intake.receive(passed)).outcome is MailOutcome.CREATED
    assert (await intake.receive(forged)).outcome is MailOutcome.HELD


async def test_a_concurrent_second_delivery_is_a_duplicate_not_a_second_ticket(
    intake: MailIntake, seeded: Sessions
) -> None:
    import asyncio

    results = await asyncio.gather(
        intake.receive(m.plain(), recipients=("support@acme.test",)),
        intake.receive(m.plain(), recipients=("help@acme.test",)),
    )
    assert sorted(r.outcome.value for r in results) == ["created", "duplicate"]
    assert await count(seeded, "tickets") == 1


def test_the_result_is_the_contracts_json() -> None:
    from ticketing.mail.flows import IntakeResult

    result = IntakeResult(MailOutcome.CREATED, 1, "TKT-000001", None, "a@b.c")
    assert result.public() == {"outcome": "created", "ticket_number": "TKT-000001", "reason": None}
    assert replace(result, outcome=MailOutcome.HELD).public()["outcome"] == "held"
