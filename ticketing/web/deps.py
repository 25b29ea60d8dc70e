"""What a route depends on: the ports the app was built with and the caller's Principal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException

from ticketing.auth.keycache import KeyCache
from ticketing.auth.principal import Principal
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


async def api_ports(request: Request) -> ApiPorts:
    # async: a plain def dependency would cost every request a hop to the thread pool.
    ports: ApiPorts | None = getattr(request.app.state, "ports", None)
    if ports is None:
        raise HTTPException(503, "the API is starting")
    return ports


Ports = Annotated[ApiPorts, Depends(api_ports)]
bearer = HTTPBearer(
    auto_error=False, description="An API key from `ticketing apikey create` (Bearer tk_…)."
)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def current_principal(
    ports: Ports,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The Principal of the request's API key; 401 for none, an unknown or a revoked key."""
    if credentials is None:
        raise _unauthorized("authorization: send `Authorization: Bearer <API key>`")
    principal = await ports.keys.principal(ports.sessions, credentials.credentials)
    if principal is None:
        raise _unauthorized("authorization: unknown or revoked API key")
    return principal


Caller = Annotated[Principal, Depends(current_principal)]


def ticket_flows(ports: ApiPorts, principal: Principal) -> TicketFlows:
    return TicketFlows(ports.sessions, principal, watchers=ports.watchers, notices=ports.notices)
