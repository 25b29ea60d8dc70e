"""SQL of a merge: a duplicate's thread moves to the ticket it is merged into."""

from __future__ import annotations

import uuid

from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.tickets.models import TicketMessage


async def move_messages(session: AsyncSession, source: uuid.UUID, target: uuid.UUID) -> int:
    """Move every message (replies and notes, with their times) of `source` to `target`."""
    result = await session.execute(
        update(TicketMessage).where(TicketMessage.ticket_id == source).values(ticket_id=target)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def move_attachments(session: AsyncSession, source: uuid.UUID, target: uuid.UUID) -> int:
    """Move the duplicate's files with its messages (the ticket's own and each message's), in
    the merge's transaction. Mail threading needs nothing here: replies to the duplicate's
    thread follow `tickets.merged_into` (TicketService.add_message)."""
    result = await session.execute(
        text("UPDATE attachments SET ticket_id = :target WHERE ticket_id = :source"),
        {"source": source, "target": target},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def copy_participants(session: AsyncSession, source: uuid.UUID, target: uuid.UUID) -> int:
    """The addresses the customer copied on the duplicate may answer the survivor by mail too
    (kept on the duplicate as well: its thread still reaches the survivor)."""
    result = await session.execute(
        text(
            "INSERT INTO ticket_participants (tenant_id, ticket_id, address, created_at)"
            " SELECT tenant_id, :target, address, created_at FROM ticket_participants"
            " WHERE ticket_id = :source ON CONFLICT (ticket_id, address) DO NOTHING"
        ),
        {"source": source, "target": target},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
