"""The reports' two reads over the tickets a principal may see (its scoped base statement)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal
from ticketing.tickets.models import Ticket
from ticketing.tickets.repository import scoped_tickets


async def counts(session: AsyncSession, principal: Principal) -> Sequence[Sequence[Any]]:
    """(tenant, team, status, priority, type, breached, linked to an outage, count) over the
    visible tickets."""
    visible = scoped_tickets(principal).subquery()
    columns = (
        visible.c.tenant_id,
        visible.c.assigned_team,
        visible.c.status,
        visible.c.priority,
        visible.c.ticket_type,
        visible.c.sla_breached,
        visible.c.outage_number.is_not(None),
    )
    rows = await session.execute(select(*columns, func.count()).group_by(*columns))
    return [tuple(row) for row in rows]


async def created_between(
    session: AsyncSession, principal: Principal, start: datetime, end: datetime, limit: int
) -> list[tuple[uuid.UUID, bool]]:
    """(id, outage ticket) of the visible tickets created in [start, end), oldest first, at
    most `limit`; an outage ticket is linked to an outage or is an outage's own ticket."""
    outage = or_(
        Ticket.outage_number.is_not(None), cast(Ticket.ticket_type, String) == "outage_report"
    )
    query = (
        scoped_tickets(principal)
        .with_only_columns(Ticket.id, outage)
        .where(Ticket.created_at >= start, Ticket.created_at < end)
        .order_by(Ticket.created_at)
        .limit(limit)
    )
    return [(row[0], bool(row[1])) for row in await session.execute(query)]
