"""Merging duplicates on PostgreSQL: the thread moves, the duplicate closes with a pointer, the
customer hears once, retries change nothing, and replies racing the merge land exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.services import Services
from tests.temporal_support import seed_tenant
from ticketing.auth.principal import Principal
from ticketing.core.errors import CannotMerge, TicketNotFound
from ticketing.mail.models import TicketParticipant
from ticketing.notifications.models import Notification
from ticketing.notifications.service import QueueOnly
from ticketing.tickets.attachments.schemas import NewFile
from ticketing.tickets.attachments.service import AttachmentService
from ticketing.tickets.flows import TicketFlows
from ticketing.tickets.models import TicketMessage
from ticketing.tickets.schemas import TicketInfo

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
M = timedelta(minutes=1)
AGENT = Principal.tenant_agent("acme", name="ann")


class Woken:
    def __init__(self) -> None:
        self.tickets: list[str] = []

    async def ensure(self, ticket: TicketInfo) -> None:
        self.tickets.append(ticket.ticket_number)

    async def wake(self, ticket: TicketInfo) -> None:
        self.tickets.append(ticket.ticket_number)


def flows(
    sessions: Sessions, principal: Principal = AGENT, woken: Woken | None = None
) -> TicketFlows:
    return TicketFlows(sessions, principal, watchers=woken or Woken(), notices=QueueOnly())


async def two_tickets(sessions: Sessions, customer: str = "42") -> tuple[TicketInfo, TicketInfo]:
    async with sessions() as session, session.begin():
        service = Services(session)
        first = await service.tickets.create_ticket(
            {
                "title": "No internet (mail)",
                "customer_id": 42,
                "channel": "email",
                "tenant_id": "acme",
            },
            now=T0,
        )
        second = await service.tickets.create_ticket(
            {
                "title": "Internet down (chat)",
                "customer_id": customer,
                "tenant_id": "acme",
                "channel": "chat",
                "description": "Since 8 o'clock",
            },
            now=T0 + M,
        )
    return first, second


async def bodies(sessions: Sessions, ticket: TicketInfo) -> list[tuple[str, bool]]:
    async with sessions() as session:
        rows = await session.execute(
            select(TicketMessage.body, TicketMessage.is_internal)
            .where(TicketMessage.ticket_id == ticket.ticket_id)
            .order_by(TicketMessage.id)
        )
        return [(body, internal) for body, internal in rows]


async def merged_notices(sessions: Sessions) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).where(Notification.kind == "ticket_merged")
        )
        return int(count or 0)


async def test_a_merge_moves_the_thread_and_closes_the_duplicate_with_a_pointer(
    committed: Sessions,
) -> None:
    await seed_tenant(committed)
    first, second = await two_tickets(committed)
    customer = flows(committed, Principal.customer("acme", "42"))
    await customer.reply(second.ticket_id, body="Still down", now=T0 + 2 * M)
    woken = Woken()
    merged = await flows(committed, woken=woken).merge(
        second.ticket_number, first.ticket_number, now=T0 + 3 * M
    )
    assert merged.merged_now
    assert merged.ticket.status.value == "closed"
    assert merged.into.status.value == "open"
    assert ("Still down", False) in await bodies(committed, first)
    assert any(
        internal
        and body.startswith(f"Merged from {second.ticket_number}")
        and "Since 8 o'clock" in body
        for body, internal in await bodies(committed, first)
    )
    assert await bodies(committed, second) == [
        (
            f"This ticket was merged into {first.ticket_number}, which is about the same "
            "request. We continue there.",
            False,
        )
    ]
    async with committed() as session:
        _, events = await Services(session).tickets.timeline(second.ticket_id)
        _, survivor_events = await Services(session).tickets.timeline(first.ticket_id)
    assert {"kind": "merged", "data": {"into": first.ticket_number}} in [
        {"kind": e.kind, "data": e.data} for e in events
    ]
    assert events[-1].data == {"from": "open", "to": "closed", "reason": "merged"}
    assert survivor_events[-1].data == {"from": second.ticket_number}
    # Both watchers woken: the duplicate's ends, the survivor's re-reads.
    assert set(woken.tickets) == {first.ticket_number, second.ticket_number}
    assert await merged_notices(committed) == 1
    # A retry (a second click, a redelivered request) changes nothing and tells nobody again.
    again = await flows(committed).merge(second.ticket_number, first.ticket_number)
    assert not again.merged_now
    assert await merged_notices(committed) == 1
    # A later reply to the duplicate (mail to its thread) lands on the survivor.
    late = await customer.reply(second.ticket_id, body="Any news?", now=T0 + 4 * M)
    assert late.ticket_number == first.ticket_number
    assert ("Any news?", False) in await bodies(committed, first)


async def test_merges_are_scoped_and_refused_naming_into(committed: Sessions) -> None:
    await seed_tenant(committed)
    await seed_tenant(committed, tenant_id="globex")
    async with committed() as session, session.begin():
        await Services(session).tenants.upsert_customer(tenant_id="acme", customer_id="43")
    first, second = await two_tickets(committed, customer="43")
    with pytest.raises(CannotMerge) as other_customer:
        await flows(committed).merge(second.ticket_number, first.ticket_number)
    assert other_customer.value.field == "into"
    with pytest.raises(CannotMerge) as itself:
        await flows(committed).merge(first.ticket_number, first.ticket_number)
    assert itself.value.field == "into"
    elsewhere = flows(committed, Principal.tenant_agent("globex", name="gus"))
    with pytest.raises(TicketNotFound):
        await elsewhere.merge(second.ticket_number, first.ticket_number)
    with pytest.raises(TicketNotFound) as missing:
        await flows(committed).merge(second.ticket_number, "TKT-999999")
    assert missing.value.field == "into"
    # The tenant's admin may merge across its customers.
    admin = flows(committed, Principal.tenant_admin("acme", name="boss"))
    assert (await admin.merge(second.ticket_number, first.ticket_number)).merged_now


async def test_replies_racing_a_merge_land_on_exactly_one_ticket(committed: Sessions) -> None:
    await seed_tenant(committed)
    first, second = await two_tickets(committed)
    customer = flows(committed, Principal.customer("acme", "42"))
    agent = flows(committed)
    replies = [f"reply {i}" for i in range(12)]

    async def reply(body: str, ticket: TicketInfo) -> None:
        await customer.reply(ticket.ticket_id, body=body)

    # Replies to both tickets, while the merge locks them (in id order, as replies do).
    await asyncio.gather(
        *(reply(b, second if i % 3 else first) for i, b in enumerate(replies[:6])),
        agent.merge(second.ticket_number, first.ticket_number),
        *(reply(b, second if i % 3 else first) for i, b in enumerate(replies[6:])),
    )
    on_first = [b for b, _ in await bodies(committed, first)]
    on_second = [b for b, _ in await bodies(committed, second)]
    for body in replies:
        assert on_first.count(body) + on_second.count(body) == 1, body
    # Whatever the order, nothing but the pointer stays on the closed duplicate.
    assert [b for b in on_second if b in replies] == []


async def test_a_merge_moves_the_duplicates_files_and_its_copied_addresses(
    committed: Sessions,
) -> None:
    await seed_tenant(committed)
    first, second = await two_tickets(committed)
    async with committed() as session, session.begin():
        await AttachmentService(session, AGENT).attach(
            second.ticket_id,
            "acme",
            [NewFile("speedtest.png", "image/png", b"\x89PNG")],
            max_bytes=1024,
        )
        session.add(
            TicketParticipant(
                tenant_id="acme",
                ticket_id=second.ticket_id,
                address="flatmate@a.test",
                created_at=T0,
            )
        )
    await flows(committed).merge(second.ticket_number, first.ticket_number, now=T0 + 3 * M)
    async with committed() as session:
        files = await AttachmentService(session, AGENT).of_ticket(first.ticket_id)
        copied = await session.scalars(
            select(TicketParticipant.address).where(TicketParticipant.ticket_id == first.ticket_id)
        )
        addresses = list(copied)
    assert [f.info.filename for f in files] == ["speedtest.png"]
    assert addresses == ["flatmate@a.test"]
