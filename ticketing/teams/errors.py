"""Errors of the teams domain, each naming its field."""

from __future__ import annotations

from ticketing.core.errors import NotFound, TicketingError


class TeamNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"team: no team {name!r}", field="team", value=name)


class AgentNotFound(NotFound):
    def __init__(self, email: str) -> None:
        super().__init__(f"agent: no agent {email!r}", field="agent", value=email)


class AlreadyExists(TicketingError):
    """A team or agent of that name is already registered in the tenant."""

    status = 409

    def __init__(self, field: str, value: str) -> None:
        super().__init__(f"{field}: {value!r} already exists", field=field, value=value)
