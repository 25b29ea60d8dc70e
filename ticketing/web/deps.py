"""What a route depends on: the ports the app was built with and the caller's Principal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from ticketing.auth.keycache import KeyCache
from ticketing.auth.principal import Principal
from ticketing.outages.flows import OutageFlows, OutageRuns
from ticketing.tickets.flows import TicketFlows
from ticketing.tickets.ports import Notices, Watchers


@dataclass(frozen=True)
class ApiPorts:
    """The database and the after-commit ports every flow of a request runs with (the same
    Temporal watchers and notice delivery as the worker's, so HTTP is just another channel)."""

    sessions: async_sessionmaker[AsyncSession]
    watchers: Watchers
    notices: Notices
    keys: KeyCache = field(default_factory=KeyCache)
    # Each outage's durable run (OutageWorkflow); None runs the pages in the request (tests).
    outages: OutageRuns | None = None
    # The Alertmanager label that names an alert's outage tag.
    alert_label: str = "outage_tag"


def ports_of(request: HTTPConnection) -> ApiPorts:
    ports: ApiPorts | None = getattr(request.app.state, "ports", None)
    if ports is None:
        raise HTTPException(503, "the API is starting")
    return ports


async def api_ports(request: Request) -> ApiPorts:
    # async: a plain def dependency would cost every request a hop to the thread pool.
    return ports_of(request)


Ports = Annotated[ApiPorts, Depends(api_ports)]
KEY_DESCRIPTION = "An API key from `ticketing apikey create` (Bearer tk_…)."
bearer = HTTPBearer(auto_error=False, description=KEY_DESCRIPTION)


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


class ApiKeyBearer(HTTPBearer):
    """The Principal of the request's API key; 401 for none, an unknown or a revoked key.

    One dependency rather than a chain (bearer → ports → key): FastAPI solves each
    dependency of every request in turn, and solving them was ~13 % of the API process's
    CPU per create (py-spy, bench.api at c=1). The OpenAPI security scheme is the same
    `HTTPBearer` one."""

    def __init__(self) -> None:
        super().__init__(auto_error=False, description=KEY_DESCRIPTION, scheme_name="HTTPBearer")

    async def __call__(self, request: HTTPConnection) -> Principal:  # type: ignore[override]
        credentials = await super().__call__(request)
        if credentials is None:
            raise unauthorized("authorization: send `Authorization: Bearer <API key>`")
        ports = ports_of(request)
        principal = await ports.keys.principal(ports.sessions, credentials.credentials)
        if principal is None:
            raise unauthorized("authorization: unknown or revoked API key")
        return principal


current_principal = ApiKeyBearer()
Caller = Annotated[Principal, Depends(current_principal)]


def ticket_flows(ports: ApiPorts, principal: Principal) -> TicketFlows:
    return TicketFlows(ports.sessions, principal, watchers=ports.watchers, notices=ports.notices)


def outage_flows(ports: ApiPorts, principal: Principal) -> OutageFlows:
    return OutageFlows(
        ports.sessions,
        principal,
        watchers=ports.watchers,
        notices=ports.notices,
        runs=ports.outages,
    )
