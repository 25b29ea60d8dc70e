"""Notifications leave the outbox by SMTP once, numbered, with a stable Message-ID."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.tickets import TicketActivities
from chaos.run import SmtpSink
from tests.services import Services
from tests.temporal_support import create_ticket, seed_tenant
from ticketing.models import Notification
from ticketing.notify import Notifier, send_notifications
from ticketing.schemas import BreachResult, RecordBreachInput
from ticketing.sla import demo_policy


async def test_outbox_row_is_mailed_once_with_its_ticket_number(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    await seed_tenant(committed)
    async with committed() as session, session.begin():
        ticket = await Services(session).create_ticket(
            {"title": "No internet", "customer_id": 42, "requester_email": "jane@example.com"}
        )
    async with committed() as session:
        note_id = (await session.execute(select(Notification.id))).scalar_one()
    sink = SmtpSink()
    await sink.start()
    try:
        notifier = Notifier(f"smtp://127.0.0.1:{sink.port}", sender="tickets@isp.test")
        assert await send_notifications(committed, notifier, [note_id]) == 1
        assert await send_notifications(committed, notifier, [note_id]) == 0  # already sent
    finally:
        await sink.stop()
    assert len(sink.messages) == 1
    to, subject, message_id = sink.messages[0]
    assert to == "jane@example.com"
    assert ticket.ticket_number in subject
    assert message_id == f"<notification-{note_id}@ticketing>"
    async with committed() as session:
        note = await session.get(Notification, note_id)
        assert note is not None
        assert note.sent_at is not None
        assert note.attempts == 1


async def test_watcher_thresholds_mail_whoever_owns_the_level_once(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    """record_breach (the watcher's activity) sends every unsent notification of its ticket:
    the warning and breach go to the tenant's desk at L1, the escalation to the partner that
    owns L2, each once with one attempt; a retried call records and sends nothing more."""
    await seed_tenant(committed, partner=True, policy=demo_policy())
    t0 = datetime.now(UTC)
    ticket = await create_ticket(committed, t0, priority="urgent")
    sink = SmtpSink()
    await sink.start()
    try:
        activities = TicketActivities(
            committed,
            client=None,
            notifier=Notifier(f"smtp://127.0.0.1:{sink.port}", sender="tickets@isp.test"),
            task_queue="unused",
        )

        async def fire(kind: str, seconds: int) -> BreachResult:
            return await ActivityEnvironment().run(
                activities.record_breach,
                RecordBreachInput(
                    ticket_id=ticket.ticket_id, kind=kind, now=t0 + timedelta(seconds=seconds)
                ),
            )

        warning = await fire("first_response_warning", 8)
        breach = await fire("resolution", 31)
        retry = await fire("resolution", 31)
    finally:
        await sink.stop()
    assert warning.recorded and breach.recorded and breach.escalated
    assert not retry.recorded and not retry.escalated and retry.notification_ids == []
    assert breach.snapshot.escalation_level == 2
    mailed = sorted(
        (subject.split("] ")[1].split(" ")[0:2], to) for to, subject, _ in sink.messages
    )
    assert mailed == [
        (["Escalated", "to"], "noc@fiberco.test"),
        (["SLA", "breached"], "support@acme.test"),
        (["SLA", "warning"], "support@acme.test"),
        (["We", "received"], "jane@example.com"),
    ]
    async with committed() as session:
        notes = (await session.execute(select(Notification))).scalars().all()
    assert len(notes) == 4
    assert all(n.sent_at is not None and n.attempts == 1 for n in notes)
