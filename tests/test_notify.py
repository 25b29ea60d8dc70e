"""Notifications leave the outbox by SMTP once, numbered, with a stable Message-ID."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chaos.run import SmtpSink
from tests.temporal_support import seed_tenant
from ticketing.models import Notification
from ticketing.notify import Notifier, send_notifications
from ticketing.service import TicketingService


async def test_outbox_row_is_mailed_once_with_its_ticket_number(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    await seed_tenant(committed)
    async with committed() as session, session.begin():
        ticket = await TicketingService(session).create_ticket(
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
