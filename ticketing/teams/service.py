"""Team and agent rules for a tenant, and the pick that gives a new ticket to an agent."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import TENANT_ROLES, Principal, Role, require_principal
from ticketing.core.errors import Forbidden, InvalidInput, TenantNotFound
from ticketing.core.fields import check_storable
from ticketing.db.rls import bind_scope
from ticketing.teams import repository as repo
from ticketing.teams.errors import AgentNotFound, AlreadyExists, TeamNotFound
from ticketing.teams.models import Agent, Team, TeamMember
from ticketing.teams.schemas import (
    AgentCreate,
    AgentInfo,
    AgentUpdate,
    AssignmentMode,
    TeamCreate,
    TeamInfo,
    TeamUpdate,
)
from ticketing.tickets.schemas import TicketInfo
from ticketing.tickets.service import TicketService

READERS = TENANT_ROLES | {Role.PLATFORM}
ADMINS = frozenset({Role.TENANT_ADMIN, Role.PLATFORM})


def _agent_info(agent: Agent) -> AgentInfo:
    return AgentInfo(
        tenant_id=agent.tenant_id, email=agent.email, name=agent.name, available=agent.available
    )


class TeamService:
    """Teams and agents of one tenant: the key's own, or the one a platform caller names."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = require_principal(principal, "TeamService")
        bind_scope(session, self.principal)

    def _tenant(self, tenant_id: str | None, *, write: bool) -> str:
        allowed = ADMINS if write else READERS
        if self.principal.role not in allowed:
            raise Forbidden("manage teams" if write else "read teams")
        if self.principal.role is Role.PLATFORM:
            if not tenant_id:
                raise InvalidInput("tenant_id", tenant_id, "a platform caller must name a tenant")
            return tenant_id
        # A tenant key naming another tenant: that tenant is not found, as a missing one is.
        if tenant_id is not None and tenant_id != self.principal.tenant_id:
            raise TenantNotFound(tenant_id)
        assert self.principal.tenant_id is not None
        return self.principal.tenant_id

    async def _team(self, tenant: str, name: str) -> Team:
        team = await repo.get_team(self.session, tenant, name)
        if team is None:
            raise TeamNotFound(name)
        return team

    async def _info(self, team: Team) -> TeamInfo:
        return TeamInfo(
            tenant_id=team.tenant_id,
            name=team.name,
            assignment_mode=team.assignment_mode,
            members=await repo.members(self.session, team.tenant_id, team.name),
        )

    async def list_teams(self, tenant_id: str | None = None) -> list[TeamInfo]:
        tenant = self._tenant(tenant_id, write=False)
        return [await self._info(team) for team in await repo.list_teams(self.session, tenant)]

    async def get_team(self, name: str, tenant_id: str | None = None) -> TeamInfo:
        return await self._info(await self._team(self._tenant(tenant_id, write=False), name))

    async def create_team(self, new: TeamCreate, tenant_id: str | None = None) -> TeamInfo:
        tenant = self._tenant(tenant_id, write=True)
        check_storable(name=new.name)
        if await repo.get_team(self.session, tenant, new.name) is not None:
            raise AlreadyExists("name", new.name)
        team = Team(
            tenant_id=tenant, name=new.name, assignment_mode=new.assignment_mode, assignments=0
        )
        self.session.add(team)
        await self.session.flush()
        return await self._info(team)

    async def update_team(
        self, name: str, change: TeamUpdate, tenant_id: str | None = None
    ) -> TeamInfo:
        team = await self._team(self._tenant(tenant_id, write=True), name)
        team.assignment_mode = change.assignment_mode
        await self.session.flush()
        return await self._info(team)

    async def delete_team(self, name: str, tenant_id: str | None = None) -> None:
        team = await self._team(self._tenant(tenant_id, write=True), name)
        await self.session.delete(team)
        await self.session.flush()

    async def add_member(self, team: str, email: str, tenant_id: str | None = None) -> TeamInfo:
        tenant = self._tenant(tenant_id, write=True)
        found = await self._team(tenant, team)
        if await repo.get_agent(self.session, tenant, email) is None:
            raise AgentNotFound(email)
        if email not in await repo.members(self.session, tenant, team):
            self.session.add(TeamMember(tenant_id=tenant, team_name=team, agent_email=email))
            await self.session.flush()
        return await self._info(found)

    async def remove_member(self, team: str, email: str, tenant_id: str | None = None) -> TeamInfo:
        tenant = self._tenant(tenant_id, write=True)
        found = await self._team(tenant, team)
        if not await repo.remove_member(self.session, tenant, team, email):
            raise AgentNotFound(email)
        return await self._info(found)

    async def list_agents(self, tenant_id: str | None = None) -> list[AgentInfo]:
        tenant = self._tenant(tenant_id, write=False)
        return [_agent_info(agent) for agent in await repo.list_agents(self.session, tenant)]

    async def create_agent(self, new: AgentCreate, tenant_id: str | None = None) -> AgentInfo:
        tenant = self._tenant(tenant_id, write=True)
        check_storable(email=new.email, name=new.name)
        if await repo.get_agent(self.session, tenant, new.email) is not None:
            raise AlreadyExists("email", new.email)
        agent = Agent(tenant_id=tenant, email=new.email, name=new.name, available=new.available)
        self.session.add(agent)
        await self.session.flush()
        return _agent_info(agent)

    async def update_agent(
        self, email: str, change: AgentUpdate, tenant_id: str | None = None
    ) -> AgentInfo:
        tenant = self._tenant(tenant_id, write=True)
        agent = await repo.get_agent(self.session, tenant, email)
        if agent is None:
            raise AgentNotFound(email)
        check_storable(name=change.name)
        if change.name is not None:
            agent.name = change.name
        if change.available is not None:
            agent.available = change.available
        await self.session.flush()
        return _agent_info(agent)

    async def delete_agent(self, email: str, tenant_id: str | None = None) -> None:
        tenant = self._tenant(tenant_id, write=True)
        agent = await repo.get_agent(self.session, tenant, email)
        if agent is None:
            raise AgentNotFound(email)
        await self.session.delete(agent)
        await self.session.flush()


async def assign_by_team(session: AsyncSession, ticket: TicketInfo) -> TicketInfo:
    """Give a new, unassigned ticket to an agent by its team's mode; unchanged when the team
    does not assign, has no available member, or someone already assigned the ticket. Inside
    the caller's transaction, which holds the team's row until it ends."""
    if ticket.assigned_team is None or ticket.assigned_to is not None:
        return ticket
    turn = await repo.take_turn(session, ticket.tenant_id, ticket.assigned_team)
    if turn is None:
        return ticket
    mode, number = turn
    agent: str | None
    if mode is AssignmentMode.ROUND_ROBIN:
        available = await repo.available_members(session, ticket.tenant_id, ticket.assigned_team)
        agent = available[(number - 1) % len(available)] if available else None
    else:
        agent = await repo.least_loaded_member(session, ticket.tenant_id, ticket.assigned_team)
    if agent is None or not await repo.lock_unassigned(session, ticket.ticket_id):
        return ticket
    # The rule is the tenant's; it acts on this one ticket only, like the watcher does.
    principal = Principal(Role.SYSTEM, ticket_id=ticket.ticket_id, name=f"auto-assign:{mode}")
    return await TicketService(session, principal).assign(ticket.ticket_id, assigned_to=agent)
