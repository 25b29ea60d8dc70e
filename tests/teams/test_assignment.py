"""Auto-assignment of new tickets by their team's mode: round robin, least loaded, none, and
a person's assignment always winning, also under concurrent creates."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.services import Services
from ticketing.auth.principal import Principal
from ticketing.core.enums import EventKind
from ticketing.notifications.mailer import Notifier
from ticketing.notifications.service import DirectDelivery
from ticketing.teams.schemas import (
    AgentCreate,
    AgentUpdate,
    AssignmentMode,
    TeamCreate,
    TeamUpdate,
)
from ticketing.teams.service import TeamService, assign_by_team
from ticketing.tickets.flows import TicketFlows
from ticketing.tickets.ports import NoWatchers
from ticketing.tickets.schemas import TicketInfo
from ticketing.tickets.service import TicketService

ADMIN = Principal.tenant_admin("acme", name="boss@acme.test")
AGENTS = ("ann@acme.test", "bob@acme.test", "cid@acme.test")

Sessions = async_sessionmaker[AsyncSession]


@pytest_asyncio.fixture
async def sessions(committed: Sessions) -> Sessions:
    async with committed() as session, session.begin():
        service = Services(session)
        await service.tenants.register_tenant("acme")
        await service.tenants.upsert_customer(
            tenant_id="acme", customer_id="42", email="jane@a.test"
        )
        teams = TeamService(session, ADMIN)
        for email in AGENTS:
            await teams.create_agent(AgentCreate(email=email))
    return committed


async def make_team(sessions: Sessions, name: str, mode: AssignmentMode, members: tuple) -> None:
    async with sessions() as session, session.begin():
        teams = TeamService(session, ADMIN)
        await teams.create_team(TeamCreate(name=name, assignment_mode=mode))
        for email in members:
            await teams.add_member(name, email)


def flows(sessions: Sessions) -> TicketFlows:
    return TicketFlows(
        sessions,
        Principal.tenant_agent("acme", name="desk"),
        watchers=NoWatchers(),
        notices=DirectDelivery(sessions, Notifier()),
    )


async def create(sessions: Sessions, team: str | None, key: str | None = None) -> TicketInfo:
    request: dict[str, object] = {"title": "No internet", "customer_id": 42}
    if team is not None:
        request["assigned_team"] = team
    if key is not None:
        request["idempotency_key"] = key
    return await flows(sessions).create(request)


async def test_round_robin_takes_turns_among_available_members(sessions: Sessions) -> None:
    await make_team(sessions, "noc", AssignmentMode.ROUND_ROBIN, AGENTS)
    async with sessions() as session, session.begin():
        await TeamService(session, ADMIN).update_agent(AGENTS[1], AgentUpdate(available=False))
    picked = [(await create(sessions, "noc")).assigned_to for _ in range(4)]
    assert picked == [AGENTS[0], AGENTS[2], AGENTS[0], AGENTS[2]]


async def test_least_loaded_picks_the_available_member_with_fewest_open(
    sessions: Sessions,
) -> None:
    await make_team(sessions, "field", AssignmentMode.LEAST_LOADED, AGENTS)
    desk = flows(sessions)
    for email in (AGENTS[0], AGENTS[0], AGENTS[1]):
        ticket = await create(sessions, None)
        await desk.assign(ticket.ticket_id, assigned_to=email)
    finished = await create(sessions, None)
    await desk.assign(finished.ticket_id, assigned_to=AGENTS[2])
    await desk.change_status(finished.ticket_id, "resolved")
    await desk.assign((await create(sessions, None)).ticket_id, assigned_to=AGENTS[2])
    # ann 2 open, bob 1, cid 1 (+1 resolved, which does not count): bob by email order.
    assert (await create(sessions, "field")).assigned_to == AGENTS[1]
    async with sessions() as session, session.begin():
        await TeamService(session, ADMIN).update_agent(AGENTS[2], AgentUpdate(available=False))
    # bob 2, cid 1 but away, ann 2: ann by email order.
    assert (await create(sessions, "field")).assigned_to == AGENTS[0]


async def test_no_mode_no_team_row_or_no_available_member_leaves_it_unassigned(
    sessions: Sessions,
) -> None:
    await make_team(sessions, "quiet", AssignmentMode.NONE, AGENTS)
    await make_team(sessions, "empty", AssignmentMode.ROUND_ROBIN, ())
    for team in ("quiet", "unknown-team", "empty", None):
        ticket = await create(sessions, team)
        assert ticket.assigned_to is None, team
        assert ticket.assigned_team == team


async def test_the_assignment_is_on_the_timeline(sessions: Sessions) -> None:
    await make_team(sessions, "noc", AssignmentMode.ROUND_ROBIN, AGENTS[:1])
    ticket = await create(sessions, "noc")
    async with sessions() as session:
        _, events = await TicketService(session, ADMIN).timeline(ticket.ticket_id)
        stored = await TicketService(session, ADMIN).get_ticket(ticket.ticket_id)
    assert stored.assigned_to == AGENTS[0]
    assigned = [e for e in events if e.kind is EventKind.ASSIGNED]
    assert [e.actor for e in assigned] == ["auto-assign:round_robin"]


async def test_a_manual_assignment_always_wins(sessions: Sessions) -> None:
    await make_team(sessions, "noc", AssignmentMode.ROUND_ROBIN, AGENTS)
    first = await create(sessions, "noc", key="portal-1")
    assert first.assigned_to == AGENTS[0]
    async with sessions() as session, session.begin():
        await TeamService(session, ADMIN).create_agent(AgentCreate(email="zed@acme.test"))
    await flows(sessions).assign(first.ticket_id, assigned_to="zed@acme.test")
    # A replay of the create (a retried request) keeps the person's choice.
    again = await create(sessions, "noc", key="portal-1")
    assert again.assigned_to == "zed@acme.test"
    # A pick working from a stale copy (assigned a moment ago by a person) changes nothing.
    stale = first.model_copy(update={"assigned_to": None})
    async with sessions() as session:
        kept = await assign_by_team(session, stale)
        await session.commit()
    assert kept.assigned_to is None
    async with sessions() as session:
        stored = await TicketService(session, ADMIN).get_ticket(first.ticket_id)
    assert stored.assigned_to == "zed@acme.test"


async def assign_at_once(sessions: Sessions, tickets: list[TicketInfo]) -> list[str | None]:
    """Every pick at the same moment, each in its own session (creates alone would queue on
    the ticket counter first and rarely overlap here)."""

    async def one(ticket: TicketInfo) -> str | None:
        async with sessions() as session:
            assigned = await assign_by_team(session, ticket)
            await session.commit()
        return assigned.assigned_to

    return list(await asyncio.gather(*(one(t) for t in tickets)))


async def unassigned(sessions: Sessions, team: str, count: int) -> list[TicketInfo]:
    tickets = [await create(sessions, team) for _ in range(count)]
    assert all(t.assigned_to is None for t in tickets)
    return tickets


async def switch_mode(sessions: Sessions, team: str, mode: AssignmentMode) -> None:
    async with sessions() as session, session.begin():
        await TeamService(session, ADMIN).update_team(team, TeamUpdate(assignment_mode=mode))


async def test_concurrent_picks_never_share_a_round_robin_turn(sessions: Sessions) -> None:
    await make_team(sessions, "noc", AssignmentMode.NONE, AGENTS[:2])
    tickets = await unassigned(sessions, "noc", 10)
    await switch_mode(sessions, "noc", AssignmentMode.ROUND_ROBIN)
    picked = await assign_at_once(sessions, tickets)
    assert Counter(picked) == {AGENTS[0]: 5, AGENTS[1]: 5}


async def test_concurrent_picks_spread_by_load(sessions: Sessions) -> None:
    await make_team(sessions, "field", AssignmentMode.NONE, AGENTS)
    tickets = await unassigned(sessions, "field", 9)
    await switch_mode(sessions, "field", AssignmentMode.LEAST_LOADED)
    picked = await assign_at_once(sessions, tickets)
    assert Counter(picked) == dict.fromkeys(AGENTS, 3)


async def test_concurrent_creates_are_each_assigned_once_in_turn(sessions: Sessions) -> None:
    await make_team(sessions, "noc", AssignmentMode.ROUND_ROBIN, AGENTS[:2])
    tickets = await asyncio.gather(*(create(sessions, "noc") for _ in range(10)))
    assert Counter(t.assigned_to for t in tickets) == {AGENTS[0]: 5, AGENTS[1]: 5}
