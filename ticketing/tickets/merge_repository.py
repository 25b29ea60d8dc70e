"""SQL of a merge: a duplicate's thread moves to the ticket it is merged into."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.tickets.models import TicketMessage


async def move_messages(session: AsyncSession, source: uuid.UUID, target: uuid.UUID) -> int:
    """Move every message (replies and notes, with their times) of `source` to `target`."""
    result = await session.execute(
        update(TicketMessage).where(TicketMessage.ticket_id == source).values(ticket_id=target)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def move_attachments(session: AsyncSession, source: uuid.UUID, target: uuid.UUID) -> int:
    """Move the duplicate's attachments with its messages.

    Hook: there is no attachments table on this branch yet (the email channel adds one); when
    it lands, its rows of `source` move to `target` here, in the merge's transaction, like the
    messages they belong to. Mail threading needs nothing here: replies to the duplicate's
    thread follow `tickets.merged_into` (TicketService.add_message).
    """
    return 0
