"""A create with more work in its transaction (`also`: a portal form's files): the ticket and
that work commit together or not at all, and a replay of the key does not repeat the work."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.web.portal.conftest import seed
from ticketing.auth.principal import Principal
from ticketing.core.errors import InvalidInput
from ticketing.notifications.service import QueueOnly
from ticketing.tickets.creation import HTTP_DOOR
from ticketing.tickets.flows import TicketFlows
from ticketing.tickets.ports import NoWatchers
from ticketing.tickets.schemas import TicketInfo


def flows(sessions: async_sessionmaker[AsyncSession]) -> TicketFlows:
    return TicketFlows(
        sessions, Principal.tenant_agent("acme"), watchers=NoWatchers(), notices=QueueOnly()
    )


async def tickets(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    async with sessions() as session:
        found = await session.execute(text("SELECT number FROM tickets ORDER BY number"))
        return list(found.scalars())


REQUEST = {"title": "Router lights", "customer_id": "42", "idempotency_key": "form-1"}


async def test_work_that_fails_leaves_no_ticket_and_no_gap(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    await seed(committed)

    async def refuse(session: AsyncSession, ticket: TicketInfo) -> None:
        raise InvalidInput("attachments", "big.iso", "is over 10 bytes")

    with pytest.raises(InvalidInput):
        await flows(committed).create(REQUEST, rules=HTTP_DOOR, also=refuse)
    assert await tickets(committed) == []
    made = await flows(committed).create({**REQUEST, "idempotency_key": "form-2"})
    assert made.ticket_number == "TKT-000001"


async def test_a_replay_of_the_key_does_not_repeat_the_work(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    await seed(committed)
    done: list[str] = []

    async def record(session: AsyncSession, ticket: TicketInfo) -> None:
        done.append(ticket.ticket_number)

    first = await flows(committed).create(REQUEST, rules=HTTP_DOOR, also=record)
    again = await flows(committed).create(REQUEST, rules=HTTP_DOOR, also=record)
    assert first.ticket_id == again.ticket_id
    assert done == [first.ticket_number]
    assert await tickets(committed) == [1]
