"""The dispatcher's chunks against a real SMTP server: rows claimed together, sent side by side
over kept connections, each row's outcome its own, never a row twice."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.notifications.smtp_support import (
    CONTENT_REFUSED,
    LATER,
    REFUSED,
    RecordingHandler,
    free_port,
    smtp_server,
)
from tests.notifications.test_dispatch import flows, rows
from tests.temporal_support import seed_tenant
from ticketing.auth.principal import Principal
from ticketing.notifications.dispatch import Dispatcher, DispatchRules
from ticketing.notifications.mailer import Notifier
from ticketing.notifications.models import NoticeStatus

Sessions = async_sessionmaker[AsyncSession]


def dispatcher(committed: Sessions, port: int, concurrency: int) -> Dispatcher:
    notifier = Notifier(f"smtp://127.0.0.1:{port}", sender="tickets@isp.test")
    rules = DispatchRules(concurrency=concurrency)
    return Dispatcher(committed, Principal.reconciler(), notifier, rules)


async def open_tickets(committed: Sessions, emails: list[str], title: str = "No internet") -> None:
    for email in emails:
        await flows(committed).create(
            {"title": title, "customer_id": 42, "requester_email": email}
        )


@dataclass
class Connections(RecordingHandler):
    """Also remembers each SMTP connection a recipient was offered on."""

    seen: list[Session] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not any(known is session for known in self.seen):
            self.seen.append(session)
        return await super().handle_RCPT(server, session, envelope, address, options)


@dataclass
class Gate(RecordingHandler):
    """Holds each mail at DATA until `width` mails are held together (or refuses it after a
    while), and counts the most held at once."""

    width: int = 3
    held: int = 0
    most: int = 0
    _barrier: asyncio.Barrier | None = None

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self._barrier is None:
            self._barrier = asyncio.Barrier(self.width)
        self.held += 1
        self.most = max(self.most, self.held)
        try:
            async with asyncio.timeout(8):
                await self._barrier.wait()
        except TimeoutError:
            return "451 4.3.0 fewer mails in flight than expected"
        finally:
            self.held -= 1
        return await super().handle_DATA(server, session, envelope)


async def test_a_chunk_with_mixed_outcomes_records_each_row_on_its_own(
    committed: Sessions,
) -> None:
    await seed_tenant(committed)
    await open_tickets(committed, ["jane@example.com", REFUSED, LATER, "bob@example.com"])
    await open_tickets(committed, ["ann@example.com"], title=f"Bad {CONTENT_REFUSED}")
    handler = Connections()
    with smtp_server(handler) as port:
        report = await dispatcher(committed, port, concurrency=2).send_due()
    assert (report.sent, report.failed, report.deferred) == (2, 2, 1)
    assert not report.connection_trouble and not report.more
    # Two kept connections carried all five: a refusal (RSET) leaves its connection usable.
    assert len(handler.seen) == 2
    notes = await rows(committed)
    assert [(n.recipient, n.status, (n.reason or "")[:3], n.attempts) for n in notes] == [
        ("jane@example.com", NoticeStatus.SENT, "2.0", 1),
        (REFUSED, NoticeStatus.FAILED, "550", 1),
        (LATER, NoticeStatus.QUEUED, "451", 1),
        ("bob@example.com", NoticeStatus.SENT, "2.0", 1),
        ("ann@example.com", NoticeStatus.FAILED, "554", 1),
    ]
    deferred = notes[2]
    assert deferred.message_id is None and deferred.sent_at is None
    assert report.next_due_seconds is not None and report.next_due_seconds > 20
    sent = {n.recipient: n.message_id for n in notes if n.status is NoticeStatus.SENT}
    assert {r.recipients[0]: str(r.message["Message-ID"]) for r in handler.received} == sent
    assert len(set(sent.values())) == 2


async def test_concurrency_is_honoured_and_connections_are_kept(committed: Sessions) -> None:
    await seed_tenant(committed)
    emails = [f"c{n}@example.com" for n in range(12)]
    await open_tickets(committed, emails)
    handler = Gate(width=3)
    with smtp_server(handler) as port:
        report = await dispatcher(committed, port, concurrency=3).send_due()
    # Three at a time (the gate lets a mail through only with two others beside it), never more.
    assert report.sent == 12 and report.deferred == 0
    assert handler.most == 3
    assert sorted(r.recipients[0] for r in handler.received) == sorted(emails)


async def test_two_dispatchers_at_once_never_send_a_row_twice(committed: Sessions) -> None:
    await seed_tenant(committed)
    emails = [f"c{n}@example.com" for n in range(30)]
    await open_tickets(committed, emails)
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        first, second = await asyncio.gather(
            dispatcher(committed, port, concurrency=4).send_due(),
            dispatcher(committed, port, concurrency=4).send_due(),
        )
    assert first.sent + second.sent == 30
    assert first.sent > 0 and second.sent > 0
    assert sorted(r.recipients[0] for r in handler.received) == sorted(emails)
    notes = await rows(committed)
    assert all(n.status is NoticeStatus.SENT and n.attempts == 1 for n in notes)


async def test_connection_trouble_stops_the_pass_and_gives_back_rows_never_tried(
    committed: Sessions,
) -> None:
    await seed_tenant(committed)
    emails = [f"c{n}@example.com" for n in range(6)]
    await open_tickets(committed, emails)
    before = {n.id: n.next_attempt_at for n in await rows(committed)}
    report = await dispatcher(committed, free_port(), concurrency=2).send_due()  # no server
    assert report.connection_trouble and report.sent == report.failed == 0
    notes = await rows(committed)
    tried = [n for n in notes if n.attempts == 1]
    untouched = [n for n in notes if n.attempts == 0]
    # Each sender stops at the first failure: at most one row each was tried.
    assert 1 <= report.deferred == len(tried) <= 2
    assert len(tried) + len(untouched) == 6
    assert all(n.reason is not None and n.reason.startswith("connection") for n in tried)
    # The rest are due where they were, their attempt not counted.
    assert all(n.reason is None and n.next_attempt_at == before[n.id] for n in untouched)
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        later = await dispatcher(committed, port, concurrency=2).send_due()
    assert later.sent == len(untouched) and later.handled == len(untouched)
    assert sorted(r.recipients[0] for r in handler.received) == sorted(
        n.recipient for n in untouched if n.recipient
    )


async def test_the_limit_bounds_a_pass_across_chunks(committed: Sessions) -> None:
    await seed_tenant(committed)
    await open_tickets(committed, [f"c{n}@example.com" for n in range(12)])
    with smtp_server(RecordingHandler()) as port:
        report = await dispatcher(committed, port, concurrency=1).send_due(limit=5)
    assert report.sent == 5 and report.more
    notes = await rows(committed)
    assert [n.status for n in notes] == [NoticeStatus.SENT] * 5 + [NoticeStatus.QUEUED] * 7
    assert [n.attempts for n in notes] == [1] * 5 + [0] * 7


def test_rules_refuse_a_lease_that_cannot_cover_a_send() -> None:
    with pytest.raises(ValueError, match="lease"):
        DispatchRules(lease=timedelta(seconds=60), send_bound=timedelta(seconds=60))
    with pytest.raises(ValueError, match="concurrency"):
        DispatchRules(concurrency=0)
