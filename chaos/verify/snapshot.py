"""What the verifier reads from the database once the outbox drained and the worker stopped."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ticketing.db.engine import make_engine
from ticketing.db.metadata import Notification, SlaBreach, Ticket, TicketCounter
from ticketing.mail.models import InboundMail
from ticketing.tickets.numbering import format_ticket_number

# Delivery is the dispatcher's, after the workflows end; a row a killed worker held is due
# again when its lease ends (TICKETING_SMTP_TIMEOUT x 6 + 30 s). The dispatcher sends one row
# at a time: with 550 tickets' ~4,500 notices on a loaded 2-core machine the backlog took up to
# 246 s to drain after the last workflow closed (seed 2026).
OUTBOX_DRAIN_SECONDS = 480.0


@dataclass(frozen=True)
class StoredTicket:
    """A ticket row as the verifier reads it, with its number as the product shows it."""

    ticket_number: str
    number: int
    tenant_id: str
    idempotency_key: str | None
    status: str
    id: Any
    channel: str


@dataclass
class Breach:
    ticket_id: uuid.UUID
    kind: str
    escalation_level: int
    recorded_at: datetime


@dataclass
class Snapshot:
    tickets: list[StoredTicket]
    counter: Sequence[Any]  # (name, value) rows of the ticket counter
    notifications: Sequence[Any]  # outbox rows
    breaches: list[Breach]
    duplicate_keys: Sequence[Any]  # (dedupe_key, count) of keys with more than one row
    drained: bool  # the outbox was seen with no row queued before the worker stopped
    # inbound_mails: (id, tenant_id, mailbox, message_key, outcome, ticket_id)
    mails: Sequence[Any]


async def outbox_drained(engine: AsyncEngine, deadline: float) -> bool:
    """Until no outbox row is queued (sent or failed): True; False at the deadline."""
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            async with engine.connect() as connection:
                queued = await connection.scalar(
                    select(func.count()).where(Notification.status == "queued")
                )
            if not queued:
                return True
        await asyncio.sleep(1.0)
    return False


async def read_snapshot(url: str, stop_processes: Callable[[], Awaitable[None]]) -> Snapshot:
    """Waits for the outbox to drain, stops the product's processes, then reads (as the
    owner, past RLS)."""
    engine = make_engine(url)
    try:
        drained = await outbox_drained(engine, time.monotonic() + OUTBOX_DRAIN_SECONDS)
        # Open tickets' watchers go on recording thresholds, and their notices on being
        # mailed: the outbox and the mail server are read with the worker stopped (SIGTERM,
        # in-flight work finishes), or a notice made between the two reads looks lost.
        await stop_processes()
        async with engine.connect() as connection:
            tickets = [
                StoredTicket(format_ticket_number(row.number), *row)
                for row in await connection.execute(
                    select(
                        Ticket.number, Ticket.tenant_id, Ticket.idempotency_key,
                        Ticket.status, Ticket.id, Ticket.channel,
                    )
                )
            ]
            counter = (
                await connection.execute(select(TicketCounter.name, TicketCounter.value))
            ).all()
            notifications = (
                await connection.execute(
                    select(
                        Notification.id, Notification.dedupe_key, Notification.kind,
                        Notification.sent_at, Notification.attempts, Notification.recipient,
                        Notification.status, Notification.reason,
                    )
                )
            ).all()
            breaches = [
                Breach(*row)
                for row in await connection.execute(
                    select(
                        SlaBreach.ticket_id, SlaBreach.kind, SlaBreach.escalation_level,
                        SlaBreach.recorded_at,
                    )
                )
            ]
            duplicate_keys = (
                await connection.execute(
                    select(Notification.dedupe_key, func.count())
                    .group_by(Notification.dedupe_key)
                    .having(func.count() > 1)
                )
            ).all()
            mails = (
                await connection.execute(
                    select(
                        InboundMail.id, InboundMail.tenant_id, InboundMail.mailbox,
                        InboundMail.message_key, InboundMail.outcome, InboundMail.ticket_id,
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    return Snapshot(tickets, counter, notifications, breaches, duplicate_keys, drained, mails)


def reconciler_repairs(home: Path) -> dict[str, int]:
    """What the reconciler repaired, summed from the workers' `reconciled_watchers` and
    `reconciled_outbox` log lines (it logs only when it repaired something)."""
    found = {"started": 0, "replaced": 0, "woken": 0, "notices": 0}
    for log in sorted(home.glob("worker*-*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if '"reconciled_' not in line:
                continue
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                for key in found:
                    value = event.get(key)
                    if isinstance(value, int):
                        found[key] += value
    return found
