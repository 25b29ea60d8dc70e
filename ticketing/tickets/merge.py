"""Merging a duplicate into the ticket it repeats, inside the caller's transaction: its thread
moves, it closes with a pointer, and later replies to it land on the survivor."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal, Role, require_principal
from ticketing.core.enums import EventKind, TicketStatus
from ticketing.core.errors import CannotMerge, TicketNotFound
from ticketing.core.fields import check_storable
from ticketing.db.rls import bind_scope
from ticketing.sla import ticket_clock as clock
from ticketing.sla.service import utcnow
from ticketing.tickets import merge_repository as merge_repo
from ticketing.tickets import repository as repo
from ticketing.tickets.info import ticket_info
from ticketing.tickets.lifecycle import message_side, require_support_side
from ticketing.tickets.models import Ticket, TicketMessage
from ticketing.tickets.numbering import format_ticket_number, ticket_ref
from ticketing.tickets.schemas import Merged
from ticketing.tickets.service import TicketService


def pointer_text(into: str) -> str:
    """The public message the duplicate closes with."""
    return (
        f"This ticket was merged into {into}, which is about the same request. We continue there."
    )


class TicketMerger:
    """Merges for one Principal: the support side, both tickets visible to it and of one
    customer, unless it administers the tenant."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = require_principal(principal, "TicketMerger")
        bind_scope(session, self.principal)

    async def merge(
        self,
        ticket: uuid.UUID | str,
        into: uuid.UUID | str,
        *,
        actor: str | None = None,
        now: datetime | None = None,
    ) -> Merged:
        """Merge `ticket` into `into`; merging it again into the same ticket changes nothing."""
        require_support_side(self.principal, "merge tickets")
        now = now or utcnow()
        actor = actor if actor is not None else self.principal.name
        check_storable(actor=actor)
        source, target = await self._locked(ticket, into)
        if source.merged_into == target.id:
            return Merged(ticket=ticket_info(source), into=ticket_info(target), merged_now=False)
        self._check(source, target, into)
        source_number = format_ticket_number(source.number)
        target_number = format_ticket_number(target.number)
        await merge_repo.move_messages(self.session, source.id, target.id)
        await merge_repo.move_attachments(self.session, source.id, target.id)
        await merge_repo.copy_participants(self.session, source.id, target.id)
        # The duplicate's own words (its description is not a message) stay readable on the
        # survivor, for the support side only.
        self.session.add(
            TicketMessage(
                ticket_id=target.id,
                author_actor=message_side(self.principal, None),
                author=actor,
                body=f"Merged from {source_number}: {source.title}\n\n{source.description}",
                is_internal=True,
                created_at=now,
            )
        )
        target.context = {
            **target.context,
            "merged_from": [*target.context.get("merged_from", []), source_number],
        }
        repo.add_event(
            self.session,
            target.id,
            EventKind.MERGED,
            now,
            actor=actor,
            data={"from": source_number},
        )
        await self.session.flush()
        # Moved customer messages may open the survivor's next-reply window earlier.
        await clock.store_due_dates(self.session, target, now)
        target.updated_at = now
        await self._close(source, target, target_number, actor, now)
        await self.session.flush()
        return Merged(ticket=ticket_info(source), into=ticket_info(target), merged_now=True)

    async def _locked(
        self, ticket: uuid.UUID | str, into: uuid.UUID | str
    ) -> tuple[Ticket, Ticket]:
        """Both tickets, row-locked in one fixed order (by id): a reply or another merge
        locking them too never deadlocks with this one."""
        first = await self._find(ticket, "ticket")
        second = await self._find(into, "into")
        if first.id == second.id:
            raise CannotMerge("into", str(into), "is the ticket itself")
        locked: dict[uuid.UUID, Ticket] = {}
        for row in sorted((first, second), key=lambda r: r.id):
            again = await repo.find_ticket(self.session, self.principal, row.id, for_update=True)
            if again is None:
                raise TicketNotFound(str(row.id))
            locked[row.id] = again
        return locked[first.id], locked[second.id]

    async def _find(self, ref: uuid.UUID | str, field: str) -> Ticket:
        row = await repo.find_ticket(self.session, self.principal, ticket_ref(ref))
        if row is None:
            error = TicketNotFound(ref if isinstance(ref, str) else str(ref))
            error.field = field
            raise error
        return row

    def _check(self, source: Ticket, target: Ticket, into: uuid.UUID | str) -> None:
        named = str(into)
        if source.merged_into is not None:
            raise CannotMerge("into", named, "the ticket is already merged into another")
        if target.merged_into is not None:
            raise CannotMerge("into", named, "is itself merged into another ticket")
        if target.status is TicketStatus.CLOSED:
            raise CannotMerge("into", named, "is closed")
        if source.tenant_id != target.tenant_id:
            raise CannotMerge("into", named, "belongs to another tenant")
        admin = self.principal.role in (Role.PLATFORM, Role.TENANT_ADMIN)
        if source.customer_id != target.customer_id and not admin:
            raise CannotMerge("into", named, "is another customer's ticket (admins only)")

    async def _close(
        self, source: Ticket, target: Ticket, target_number: str, actor: str | None, now: datetime
    ) -> None:
        """Close the duplicate with its pointer: an event, a public message, `merged_into`."""
        source.merged_into = target.id
        self.session.add(
            TicketMessage(
                ticket_id=source.id,
                author_actor=message_side(self.principal, None),
                author=actor,
                body=pointer_text(target_number),
                is_internal=False,
                created_at=now,
            )
        )
        repo.add_event(
            self.session,
            source.id,
            EventKind.MERGED,
            now,
            actor=actor,
            data={"into": target_number},
        )
        if source.status is not TicketStatus.CLOSED:
            await TicketService(self.session, self.principal).close_merged(source, actor, now)
