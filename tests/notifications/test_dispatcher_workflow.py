"""The dispatcher workflow beside a watcher: a refused notice never holds thresholds back."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from tests.notifications.smtp_support import REFUSED, RecordingHandler, smtp_server
from tests.temporal_support import seed_tenant
from ticketing.auth.principal import Principal
from ticketing.db.metadata import SlaBreach
from ticketing.notifications.dispatch import DispatcherInput
from ticketing.notifications.mailer import Notifier
from ticketing.notifications.models import NoticeStatus, Notification
from ticketing.runtime.settings import Settings
from ticketing.sla import demo_policy
from ticketing.temporal.dispatcher import DispatcherDoorbell
from ticketing.temporal.watchers import TemporalWatchers
from ticketing.tickets.flows import TicketFlows
from worker import build_worker

Sessions = async_sessionmaker[AsyncSession]


async def outbox(committed: Sessions) -> list[Notification]:
    async with committed() as session:
        found = await session.execute(select(Notification).order_by(Notification.id))
        return list(found.scalars())


async def until_nothing_queued(committed: Sessions) -> list[Notification]:
    """The outbox once the dispatcher has handled every row (bounded wait)."""
    for _ in range(200):
        notes = await outbox(committed)
        if notes and all(n.status is not NoticeStatus.QUEUED for n in notes):
            return notes
        await asyncio.sleep(0.1)
    raise AssertionError(f"rows still queued: {[(n.kind, n.status) for n in notes]}")


async def test_a_refused_created_notice_fails_and_the_watcher_records_every_threshold(
    env: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed, partner=True, policy=demo_policy())
    handler = RecordingHandler()
    settings = Settings(task_queue=f"test-{uuid.uuid4().hex[:8]}")
    with smtp_server(handler) as port:
        notifier = Notifier(f"smtp://127.0.0.1:{port}", sender="tickets@isp.test")
        worker = build_worker(env.client, committed, settings, notifier=notifier, sandbox_all=True)
        async with worker:
            doorbell = DispatcherDoorbell(env.client, settings.task_queue, DispatcherInput())
            flows = TicketFlows(
                committed,
                Principal.integration("acme"),
                watchers=TemporalWatchers(env.client, settings.task_queue),
                notices=doorbell,
            )
            ticket = await flows.create(
                {
                    "title": "No internet",
                    "customer_id": 42,
                    "priority": "urgent",
                    "requester_email": REFUSED,
                }
            )
            await doorbell.wait_rung()
            await env.sleep(timedelta(seconds=45))  # past the resolution breach (30 s)
            notes = await until_nothing_queued(committed)
    async with committed() as session:
        recorded = (
            await session.execute(
                select(SlaBreach).where(SlaBreach.ticket_id == ticket.ticket_id)
            )
        ).scalars().all()
    # Every threshold recorded, each at its due time on the server's clock, although the
    # first notice of the ticket was refused before any of them fell due.
    assert {b.kind for b in recorded} >= {
        "first_response_warning",
        "first_response",
        "resolution_warning",
        "resolution",
    }
    assert all(b.recorded_at - b.due_at < timedelta(seconds=1) for b in recorded)
    by_kind = {n.kind: n for n in notes}
    created = by_kind["ticket_created"]
    assert created.status is NoticeStatus.FAILED and created.attempts == 1
    assert created.reason is not None and created.reason.startswith("550")
    desk = [n for n in notes if n.kind != "ticket_created"]
    assert desk and all(n.status is NoticeStatus.SENT and n.attempts == 1 for n in desk)
    assert sorted(r.recipients[0] for r in handler.received) == sorted(
        n.recipient for n in desk if n.recipient
    )
