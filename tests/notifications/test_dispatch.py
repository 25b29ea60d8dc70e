"""The dispatcher against a real SMTP server: each row once, failures final or bounded."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.notifications.smtp_support import LATER, REFUSED, RecordingHandler, smtp_server
from tests.temporal_support import seed_tenant
from ticketing.auth.principal import Principal
from ticketing.notifications.delivery import RetryPolicy
from ticketing.notifications.dispatch import NO_RECIPIENT, Dispatcher, DispatchRules
from ticketing.notifications.mailer import Notifier
from ticketing.notifications.models import NoticeStatus, Notification
from ticketing.notifications.service import NotificationService, QueueOnly
from ticketing.temporal.schemas import TicketInfo
from ticketing.tickets.flows import TicketFlows
from ticketing.tickets.ports import NoWatchers

Sessions = async_sessionmaker[AsyncSession]
NOW = RetryPolicy(first_delay=timedelta(0), max_attempts=3)


def flows(committed: Sessions, principal: Principal | None = None) -> TicketFlows:
    return TicketFlows(
        committed,
        principal or Principal.integration("acme"),
        watchers=NoWatchers(),
        notices=QueueOnly(),
    )


def dispatcher(committed: Sessions, port: int, rules: DispatchRules | None = None) -> Dispatcher:
    notifier = Notifier(f"smtp://127.0.0.1:{port}", sender="tickets@isp.test")
    return Dispatcher(committed, Principal.reconciler(), notifier, rules or DispatchRules())


async def open_ticket(committed: Sessions, email: str) -> TicketInfo:
    return await flows(committed).create(
        {"title": "No internet", "customer_id": 42, "requester_email": email}
    )


async def rows(committed: Sessions) -> list[Notification]:
    async with committed() as session:
        found = await session.execute(select(Notification).order_by(Notification.id))
        return list(found.scalars())


async def test_a_refused_address_fails_once_and_the_others_are_delivered_once(
    committed: Sessions,
) -> None:
    await seed_tenant(committed)
    for email in ("jane@example.com", REFUSED, "bob@example.com"):
        await open_ticket(committed, email)
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        first = await dispatcher(committed, port).send_due()
        again = await dispatcher(committed, port).send_due()
    assert (first.sent, first.failed, first.deferred) == (2, 1, 0)
    assert (again.sent, again.failed, again.deferred) == (0, 0, 0)
    assert sorted(r.recipients[0] for r in handler.received) == [
        "bob@example.com",
        "jane@example.com",
    ]
    notes = await rows(committed)
    assert [n.status for n in notes] == [
        NoticeStatus.SENT,
        NoticeStatus.FAILED,
        NoticeStatus.SENT,
    ]
    assert all(n.attempts == 1 for n in notes)
    refused = notes[1]
    assert refused.reason is not None and refused.reason.startswith("550")
    assert refused.sent_at is None and refused.failed_at is not None
    ids = {str(r.message["Message-ID"]) for r in handler.received}
    assert ids == {n.message_id for n in notes if n.status is NoticeStatus.SENT}


async def test_a_deferred_address_is_retried_up_to_the_bound_then_failed(
    committed: Sessions,
) -> None:
    await seed_tenant(committed)
    await open_ticket(committed, LATER)
    handler = RecordingHandler()
    rules = DispatchRules(retry=NOW)
    with smtp_server(handler) as port:
        reports = [await dispatcher(committed, port, rules).send_due() for _ in range(2)]
    # No backoff here, so the pass meets the row again at once, until the bound.
    assert [(r.deferred, r.failed) for r in reports] == [(2, 1), (0, 0)]
    [note] = await rows(committed)
    assert note.status is NoticeStatus.FAILED and note.attempts == 3
    assert note.reason is not None and note.reason.startswith("gave up after 3 attempts: 451")
    assert handler.received == []


async def test_a_transient_failure_waits_for_its_backoff(committed: Sessions) -> None:
    await seed_tenant(committed)
    await open_ticket(committed, LATER)
    with smtp_server(RecordingHandler()) as port:
        first = await dispatcher(committed, port).send_due()
        second = await dispatcher(committed, port).send_due()
    assert first.deferred == 1 and second.handled == 0
    assert second.next_due_seconds is not None and second.next_due_seconds > 20
    [note] = await rows(committed)
    assert note.status is NoticeStatus.QUEUED and note.attempts == 1


async def test_a_notice_without_recipient_is_failed_or_goes_to_the_platform(
    committed: Sessions,
) -> None:
    await seed_tenant(committed)
    await flows(committed).create({"title": "No internet", "customer_id": 42})
    ticket = await open_ticket(committed, "jane@example.com")
    async with committed() as session, session.begin():
        await session.execute(
            Notification.__table__.update()
            .where(Notification.ticket_id == ticket.ticket_id)
            .values(recipient=None, kind="escalated")
        )
        await session.execute(
            Notification.__table__.update()
            .where(Notification.ticket_id != ticket.ticket_id)
            .values(recipient=None)
        )
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        plain = await dispatcher(committed, port).send_due()
        assert (plain.sent, plain.failed) == (0, 2)
        async with committed() as session, session.begin():
            await session.execute(
                Notification.__table__.update().values(
                    status="queued", reason=None, next_attempt_at=func.now()
                )
            )
        rules = DispatchRules(platform_email="noc@platform.test")
        routed = await dispatcher(committed, port, rules).send_due()
    # The escalation reaches the platform; a customer notice with no address stays failed.
    assert (routed.sent, routed.failed) == (1, 1)
    assert [r.recipients for r in handler.received] == [["noc@platform.test"]]
    notes = await rows(committed)
    assert [(n.kind, n.status, n.reason) for n in notes] == [
        ("ticket_created", NoticeStatus.FAILED, NO_RECIPIENT),
        ("escalated", NoticeStatus.SENT, "2.0.0 queued"),
    ]


async def test_customers_hear_each_event_once_threaded_and_never_an_internal_note(
    committed: Sessions,
) -> None:
    await seed_tenant(committed)
    ticket = await open_ticket(committed, "jane@example.com")
    agent = flows(committed, Principal.tenant_agent("acme", name="amy@acme.test"))
    customer = flows(committed, Principal.customer("acme", "42"))
    number = ticket.ticket_number
    await agent.reply(number, body="Please restart the router.")
    await agent.reply(number, body="SECRET: customer is a pain", is_internal=True)
    await agent.change_status(number, "pending")
    await customer.reply(number, body="Restarted, still down.")
    await agent.change_status(number, "resolved")
    await agent.change_status(number, "open")
    # A retried status write finds its notice already queued.
    async with committed() as session, session.begin():
        assert (
            await NotificationService(session, Principal.platform()).queue_for_status_change(ticket)
            is None
        )
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        report = await dispatcher(committed, port).send_due()
        again = await dispatcher(committed, port).send_due()
    assert report.sent == 6 and again.handled == 0
    got: dict[str, list[str]] = {}
    for r in handler.received:
        subject = str(r.message["Subject"]).split("] ")[1].split(":")[0]
        got.setdefault(r.recipients[0], []).append(subject)
    # Each recipient hears a ticket's events in order; recipients are served side by side.
    assert got == {
        "jane@example.com": [
            "We received your request",
            "New reply",
            "Waiting for your reply",
            "Resolved",
            "Reopened",
        ],
        "support@acme.test": ["Customer replied"],
    }
    root = f"<ticket-{ticket.ticket_id}@isp.test>"
    for received in handler.received:
        message = received.message
        assert str(message["Subject"]).startswith(f"[{number}] ")
        assert message["In-Reply-To"] == root and message["References"] == root
        assert message["Auto-Submitted"] == "auto-generated"
        assert "SECRET" not in message.as_string()
    [reply_mail] = [
        r.message for r in handler.received if "New reply" in str(r.message["Subject"])
    ]
    reply = reply_mail.get_body(("plain",))
    assert reply is not None and "Please restart the router." in reply.get_content()
    assert len({str(r.message["Message-ID"]) for r in handler.received}) == 6
