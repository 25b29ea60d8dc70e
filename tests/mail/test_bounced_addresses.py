"""A permanent bounce flags the address: later notices to it fail at once (no mail), a temporary
failure or a report about mail we never sent flags nothing, and the address writing in again
clears the flag. The dispatcher talks to a real SMTP server."""

from __future__ import annotations

from sqlalchemy import text

from tests.mail import messages as m
from tests.mail.conftest import Sessions, scalar
from tests.notifications.smtp_support import RecordingHandler, smtp_server
from ticketing.auth.principal import Principal
from ticketing.mail import bounce_repository as bounces
from ticketing.mail.flows import MailIntake
from ticketing.mail.models import MailOutcome
from ticketing.notifications.dispatch import Dispatcher
from ticketing.notifications.mailer import Notifier
from ticketing.notifications.service import QueueOnly
from ticketing.tickets.flows import TicketFlows
from ticketing.tickets.ports import NoWatchers

JANE = "jane@example.com"


async def sent_notices(seeded: Sessions) -> str:
    """Every queued notice marked sent; the first one's Message-ID."""
    message_id = "<notification-1.TKT000001@acme.test>"
    async with seeded() as s, s.begin():
        await s.execute(
            text(
                "UPDATE notifications SET status = 'sent', sent_at = now(),"
                " message_id = CASE WHEN id = (SELECT min(id) FROM notifications) THEN :m END"
                " WHERE status = 'queued'"
            ),
            {"m": message_id},
        )
    return message_id


async def flagged(seeded: Sessions) -> list[str]:
    async with seeded() as s:
        return [b.address for b in await bounces.bounced_addresses(s, "acme", 10)]


async def reply_to_jane(seeded: Sessions) -> None:
    flows = TicketFlows(
        seeded, Principal.tenant_agent("acme"), watchers=NoWatchers(), notices=QueueOnly()
    )
    await flows.reply("TKT-000001", body="Please restart the router", author_actor="tenant")


async def dispatch(seeded: Sessions) -> RecordingHandler:
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        notifier = Notifier(f"smtp://127.0.0.1:{port}", sender="tickets@isp.test")
        await Dispatcher(seeded, Principal.reconciler(), notifier).send_due()
    return handler


async def test_a_permanent_bounce_stops_mail_to_the_address_until_it_writes_in(
    intake: MailIntake, seeded: Sessions
) -> None:
    await intake.receive(m.plain())
    sent = await sent_notices(seeded)
    assert (await intake.receive(m.dsn(JANE, sent))).outcome is MailOutcome.BOUNCE
    assert await flagged(seeded) == [JANE]

    await reply_to_jane(seeded)
    handler = await dispatch(seeded)
    assert handler.received == []  # nothing left for a dead address
    status, reason = (
        await scalar(seeded, "SELECT status FROM notifications ORDER BY id DESC LIMIT 1"),
        await scalar(seeded, "SELECT reason FROM notifications ORDER BY id DESC LIMIT 1"),
    )
    assert status == "failed" and "flagged as bounced" in str(reason) and "5.1.1" in str(reason)

    # Jane writes in again: the address works, and so does the next notice.
    again = await intake.receive(
        m.plain(message_id="<back@example.com>", subject="[TKT-000001] still down")
    )
    assert again.outcome is MailOutcome.APPENDED
    assert await flagged(seeded) == []
    await reply_to_jane(seeded)
    handler = await dispatch(seeded)
    # (the desk hears of Jane's reply too)
    assert [JANE] in [r.recipients for r in handler.received]


async def test_a_temporary_failure_fails_the_notice_but_flags_nothing(
    intake: MailIntake, seeded: Sessions
) -> None:
    await intake.receive(m.plain())
    sent = await sent_notices(seeded)
    report = m.dsn(JANE, sent).replace(b"Status: 5.1.1", b"Status: 4.2.2")
    assert (await intake.receive(report)).outcome is MailOutcome.BOUNCE
    assert await scalar(seeded, "SELECT status FROM notifications") == "failed"
    assert await flagged(seeded) == []


async def test_a_report_naming_an_address_we_never_wrote_to_flags_nothing(
    intake: MailIntake, seeded: Sessions
) -> None:
    """A forged report cannot silence a customer: it must name a notice's own recipient."""
    await intake.receive(m.plain())
    sent = await sent_notices(seeded)
    report = m.dsn("bob@example.com", sent)
    assert (await intake.receive(report)).outcome is MailOutcome.BOUNCE
    assert await flagged(seeded) == []


async def test_another_tenants_flags_are_not_seen(intake: MailIntake, seeded: Sessions) -> None:
    await intake.receive(m.plain())
    sent = await sent_notices(seeded)
    await intake.receive(m.dsn(JANE, sent))
    async with seeded() as s, s.begin():
        from ticketing.db.rls import bind_scope

        bind_scope(s, Principal.tenant_admin("globex"))
        assert await bounces.bounced_addresses(s, None, 10) == []
        assert not await bounces.unflag(s, "acme", JANE)
    assert await flagged(seeded) == [JANE]
