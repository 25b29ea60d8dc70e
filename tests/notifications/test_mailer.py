"""Notifications leave the outbox by SMTP once, numbered, with a stable Message-ID."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.tickets import TicketActivities
from chaos.smtp import FaultySmtp as SmtpSink
from tests.notifications.smtp_support import RecordingHandler, smtp_server
from tests.services import Services
from tests.temporal_support import create_ticket, seed_tenant
from ticketing.auth.principal import Principal
from ticketing.db.metadata import Notification, Tenant
from ticketing.notifications.dispatch import Dispatcher
from ticketing.notifications.mailer import Notifier, TicketContext, render
from ticketing.notifications.repository import OutboxRow
from ticketing.sla import demo_policy
from ticketing.temporal.schemas import BreachResult, RecordBreachInput


async def send_due(committed: async_sessionmaker[AsyncSession], notifier: Notifier) -> int:
    """One dispatcher pass; how many rows it delivered."""
    report = await Dispatcher(committed, Principal.reconciler(), notifier).send_due()
    return report.sent


async def test_outbox_row_is_mailed_once_with_its_ticket_number(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    await seed_tenant(committed)
    async with committed() as session, session.begin():
        ticket = await Services(session).tickets.create_ticket(
            {"title": "No internet", "customer_id": 42, "requester_email": "jane@example.com"}
        )
    async with committed() as session:
        note_id = (await session.execute(select(Notification.id))).scalar_one()
    sink = SmtpSink()
    await sink.start()
    try:
        notifier = Notifier(f"smtp://127.0.0.1:{sink.port}", sender="tickets@isp.test")
        assert await send_due(committed, notifier) == 1
        assert await send_due(committed, notifier) == 0  # already sent
    finally:
        await sink.stop()
    assert len(sink.messages) == 1
    to, subject, message_id = sink.messages[0]
    assert to == "jane@example.com"
    assert ticket.ticket_number in subject
    assert message_id == f"<notification-{note_id}.{ticket.ticket_number}@isp.test>"
    async with committed() as session:
        note = await session.get(Notification, note_id)
        assert note is not None
        assert note.sent_at is not None
        assert note.attempts == 1


async def test_watcher_thresholds_mail_whoever_owns_the_level_once(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    """record_breach (the watcher's activity) only queues; the dispatcher then mails the
    warning and breach to the tenant's desk at L1, the escalation to the partner that owns L2,
    each once with one attempt; a retried call records and queues nothing more."""
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

        # As the watcher calls it: locally, from the EscalationWorkflow of this ticket.
        watcher = ActivityEnvironment()
        watcher.info = replace(
            watcher.info,
            workflow_type="EscalationWorkflow",
            workflow_id=f"escalation-{ticket.ticket_number}",
            is_local=True,
        )

        async def fire(kind: str, seconds: int) -> BreachResult:
            return await watcher.run(
                activities.record_breach,
                RecordBreachInput(
                    ticket_id=ticket.ticket_id, kind=kind, now=t0 + timedelta(seconds=seconds)
                ),
            )

        warning = await fire("first_response_warning", 8)
        breach = await fire("resolution", 31)
        retry = await fire("resolution", 31)
        assert sink.messages == []  # nothing sent on the watcher's path
        notifier = Notifier(f"smtp://127.0.0.1:{sink.port}", sender="tickets@isp.test")
        assert await send_due(committed, notifier) == 4
    finally:
        await sink.stop()
    assert warning.recorded and breach.recorded and breach.escalated
    # A retry reports what its first attempt did (the watcher keeps it) and sends nothing more.
    assert retry.recorded and retry.escalated and retry.notification_ids == []
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


async def created_notice_ids(
    committed: async_sessionmaker[AsyncSession], *emails: str
) -> list[tuple[str, int]]:
    """One ticket per requester email; returns (ticket_id, its ticket_created row id)."""
    made: list[tuple[str, int]] = []
    for email in emails:
        async with committed() as session, session.begin():
            ticket = await Services(session).tickets.create_ticket(
                {"title": "No internet", "customer_id": 42, "requester_email": email}
            )
        async with committed() as session:
            note_id = (
                await session.execute(
                    select(Notification.id).where(Notification.ticket_id == ticket.ticket_id)
                )
            ).scalar_one()
        made.append((str(ticket.ticket_id), note_id))
    return made


async def sent_at(committed: async_sessionmaker[AsyncSession], note_id: int) -> datetime | None:
    async with committed() as session:
        note = await session.get(Notification, note_id)
        assert note is not None
        return note.sent_at


async def test_legacy_path_threads_by_ticket_and_signs_with_the_tenant_name(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    await seed_tenant(committed)
    async with committed() as session, session.begin():
        tenant = await session.get(Tenant, "acme")
        assert tenant is not None
        tenant.name = "Acme Fibre"
    [(ticket_id, note_id)] = await created_notice_ids(committed, "jane@example.com")
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        notifier = Notifier(
            f"smtp://127.0.0.1:{port}", sender="tickets@isp.test", mail_domain="mail.isp.test"
        )
        assert await send_due(committed, notifier) == 1
    [got] = handler.received
    message = got.message
    assert message["References"] == f"<ticket-{ticket_id}@mail.isp.test>"
    assert message["In-Reply-To"] == f"<ticket-{ticket_id}@mail.isp.test>"
    assert str(message["Message-ID"]).startswith(f"<notification-{note_id}.TKT-")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["From"].addresses[0].display_name == "Acme Fibre"
    assert message.get_body(("html",)) is not None


def test_legacy_render_keeps_subject_and_id_and_marks_what_can_never_be_sent() -> None:
    context = TicketContext(uuid.uuid4(), "open", "Acme")
    row = OutboxRow(
        3,
        "sla_warning",
        "desk@acme.test",
        {"kind": "resolution"},
        "TKT-000009",
        "Slow\r\nBcc: x@y",
        "high",
    )
    full = render(row, context, sender="tickets@isp.test", domain="isp.test")
    light = render(row, context, sender="tickets@isp.test", domain="isp.test", full=False)
    assert full.subject == light.subject == "[TKT-000009] SLA warning (resolution): due ?"
    assert full.message_id == light.message_id == "<notification-3.TKT-000009@isp.test>"
    assert full.mail is not None and light.mail is None and full.problem is None
    unknown = render(replace(row, kind="internal_note"), context, sender="t@isp.test", domain="d")
    assert unknown.mail is None and unknown.problem is not None
    nobody = render(replace(row, recipient=None), context, sender="t@isp.test", domain="d")
    assert nobody.mail is None and nobody.problem is None  # the transport fails it
    bad = render(replace(row, recipient="jané@x.test"), context, sender="t@isp.test", domain="d")
    assert bad.problem is not None and "non-ASCII" in bad.problem
