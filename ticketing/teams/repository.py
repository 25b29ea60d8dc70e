"""All SQL about agents and teams, always within one tenant, and the picks of auto-assignment."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.core.enums import DONE_STATUSES
from ticketing.teams.models import Agent, Team, TeamMember
from ticketing.teams.schemas import AssignmentMode
from ticketing.tickets.models import Ticket


async def get_team(session: AsyncSession, tenant_id: str, name: str) -> Team | None:
    return await session.get(Team, (tenant_id, name))


async def get_agent(session: AsyncSession, tenant_id: str, email: str) -> Agent | None:
    return await session.get(Agent, (tenant_id, email))


async def list_teams(session: AsyncSession, tenant_id: str) -> Sequence[Team]:
    query = select(Team).where(Team.tenant_id == tenant_id).order_by(Team.name)
    return (await session.scalars(query)).all()


async def list_agents(session: AsyncSession, tenant_id: str) -> Sequence[Agent]:
    query = select(Agent).where(Agent.tenant_id == tenant_id).order_by(Agent.email)
    return (await session.scalars(query)).all()


async def members(session: AsyncSession, tenant_id: str, team: str) -> list[str]:
    query = (
        select(TeamMember.agent_email)
        .where(TeamMember.tenant_id == tenant_id, TeamMember.team_name == team)
        .order_by(TeamMember.agent_email)
    )
    return list((await session.scalars(query)).all())


async def lock_unassigned(session: AsyncSession, ticket_id: uuid.UUID) -> bool:
    """Lock the ticket and say whether nobody is assigned to it (a manual assignment wins)."""
    query = select(Ticket.assigned_to).where(Ticket.id == ticket_id).with_for_update()
    found = (await session.execute(query)).first()
    return found is not None and found[0] is None


async def remove_member(session: AsyncSession, tenant_id: str, team: str, email: str) -> bool:
    statement = delete(TeamMember).where(
        TeamMember.tenant_id == tenant_id,
        TeamMember.team_name == team,
        TeamMember.agent_email == email,
    )
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


# One round trip that both reads the mode and takes the team row's lock: a team with mode none
# (or no team row) costs the create nothing more, and concurrent picks for one team queue here.
_TAKE_TURN = text(
    "UPDATE teams SET assignments = assignments + 1 "
    "WHERE tenant_id = :tenant_id AND name = :team AND assignment_mode <> 'none' "
    "RETURNING assignment_mode, assignments"
)


async def take_turn(
    session: AsyncSession, tenant_id: str, team: str
) -> tuple[AssignmentMode, int] | None:
    """Lock an assigning team for this transaction; its mode and this pick's turn number
    (None when it does not assign, or no such team)."""
    row = (await session.execute(_TAKE_TURN, {"tenant_id": tenant_id, "team": team})).first()
    return None if row is None else (AssignmentMode(row[0]), int(row[1]))


def _available_members(tenant_id: str, team: str) -> Select[tuple[str]]:
    return (
        select(Agent.email)
        .join(
            TeamMember,
            (TeamMember.tenant_id == Agent.tenant_id) & (TeamMember.agent_email == Agent.email),
        )
        .where(TeamMember.tenant_id == tenant_id, TeamMember.team_name == team, Agent.available)
    )


async def available_members(session: AsyncSession, tenant_id: str, team: str) -> list[str]:
    query = _available_members(tenant_id, team).order_by(Agent.email)
    return list((await session.scalars(query)).all())


async def least_loaded_member(session: AsyncSession, tenant_id: str, team: str) -> str | None:
    """The available member with the fewest unfinished tickets of the tenant (ties by email)."""
    load = (
        select(func.count(Ticket.id))
        .where(
            Ticket.tenant_id == tenant_id,
            Ticket.assigned_to == Agent.email,
            Ticket.status.not_in(list(DONE_STATUSES)),
        )
        .correlate(Agent)
        .scalar_subquery()
    )
    query = _available_members(tenant_id, team).order_by(load, Agent.email).limit(1)
    return (await session.scalars(query)).first()
