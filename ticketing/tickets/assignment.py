"""Who a ticket may be assigned to: an agent and a team of the ticket's own tenant."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.core.errors import UnknownAssignee
from ticketing.teams import repository as teams_repo


async def check_assignees(
    session: AsyncSession, tenant_id: str, assigned_to: str | None, assigned_team: str | None
) -> None:
    """Another tenant's agent or team, or a name nobody has, is refused naming the field."""
    if assigned_to is not None and (
        await teams_repo.get_agent(session, tenant_id, assigned_to) is None
    ):
        raise UnknownAssignee("assigned_to", assigned_to)
    if assigned_team is not None and (
        await teams_repo.get_team(session, tenant_id, assigned_team) is None
    ):
        raise UnknownAssignee("assigned_team", assigned_team)
