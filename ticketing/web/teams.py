"""/api/v1/teams and /api/v1/agents: a tenant's teams, their members and assignment modes,
and its agents (tenant admins change them, agents read them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Response

from ticketing.teams.schemas import (
    AgentCreate,
    AgentInfo,
    AgentUpdate,
    TeamCreate,
    TeamInfo,
    TeamUpdate,
)
from ticketing.teams.service import TeamService
from ticketing.web.deps import Caller, Ports
from ticketing.web.routing import api_router

teams_router = api_router("/api/v1/teams", "teams")
agents_router = api_router("/api/v1/agents", "agents")
TeamName = Annotated[str, Path(min_length=1, max_length=100)]
AgentEmail = Annotated[str, Path(min_length=1, max_length=200)]
Tenant = Annotated[
    str | None,
    Query(min_length=1, max_length=64, description="Platform keys only: the tenant meant."),
]


@teams_router.get("", summary="List the tenant's teams with their members")
async def list_teams(caller: Caller, ports: Ports, tenant_id: Tenant = None) -> list[TeamInfo]:
    async with ports.sessions() as session:
        return await TeamService(session, caller).list_teams(tenant_id)


@teams_router.post("", status_code=201, summary="Create a team (tenant admins)")
async def create_team(
    body: TeamCreate, caller: Caller, ports: Ports, tenant_id: Tenant = None
) -> TeamInfo:
    async with ports.sessions() as session, session.begin():
        return await TeamService(session, caller).create_team(body, tenant_id)


@teams_router.get("/{name}", summary="Show a team with its members")
async def get_team(
    name: TeamName, caller: Caller, ports: Ports, tenant_id: Tenant = None
) -> TeamInfo:
    async with ports.sessions() as session:
        return await TeamService(session, caller).get_team(name, tenant_id)


@teams_router.patch("/{name}", summary="Change a team's assignment mode (tenant admins)")
async def update_team(
    name: TeamName, body: TeamUpdate, caller: Caller, ports: Ports, tenant_id: Tenant = None
) -> TeamInfo:
    async with ports.sessions() as session, session.begin():
        return await TeamService(session, caller).update_team(name, body, tenant_id)


@teams_router.delete("/{name}", status_code=204, summary="Delete a team (tenant admins)")
async def delete_team(
    name: TeamName, caller: Caller, ports: Ports, tenant_id: Tenant = None
) -> Response:
    async with ports.sessions() as session, session.begin():
        await TeamService(session, caller).delete_team(name, tenant_id)
    return Response(status_code=204)


@teams_router.put("/{name}/members/{email}", summary="Add an agent to a team (tenant admins)")
async def add_member(
    name: TeamName, email: AgentEmail, caller: Caller, ports: Ports, tenant_id: Tenant = None
) -> TeamInfo:
    async with ports.sessions() as session, session.begin():
        return await TeamService(session, caller).add_member(name, email, tenant_id)


@teams_router.delete(
    "/{name}/members/{email}", summary="Remove an agent from a team (tenant admins)"
)
async def remove_member(
    name: TeamName, email: AgentEmail, caller: Caller, ports: Ports, tenant_id: Tenant = None
) -> TeamInfo:
    async with ports.sessions() as session, session.begin():
        return await TeamService(session, caller).remove_member(name, email, tenant_id)


@agents_router.get("", summary="List the tenant's agents")
async def list_agents(caller: Caller, ports: Ports, tenant_id: Tenant = None) -> list[AgentInfo]:
    async with ports.sessions() as session:
        return await TeamService(session, caller).list_agents(tenant_id)


@agents_router.post("", status_code=201, summary="Register an agent (tenant admins)")
async def create_agent(
    body: AgentCreate, caller: Caller, ports: Ports, tenant_id: Tenant = None
) -> AgentInfo:
    async with ports.sessions() as session, session.begin():
        return await TeamService(session, caller).create_agent(body, tenant_id)


@agents_router.patch("/{email}", summary="Change an agent's name or availability (tenant admins)")
async def update_agent(
    email: AgentEmail, body: AgentUpdate, caller: Caller, ports: Ports, tenant_id: Tenant = None
) -> AgentInfo:
    async with ports.sessions() as session, session.begin():
        return await TeamService(session, caller).update_agent(email, body, tenant_id)


@agents_router.delete("/{email}", status_code=204, summary="Remove an agent (tenant admins)")
async def delete_agent(
    email: AgentEmail, caller: Caller, ports: Ports, tenant_id: Tenant = None
) -> Response:
    async with ports.sessions() as session, session.begin():
        await TeamService(session, caller).delete_agent(email, tenant_id)
    return Response(status_code=204)
