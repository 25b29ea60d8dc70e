"""A ticket's priority and type: both choose its SLA targets, so a change re-targets its due
dates (elapsed and paused time kept), inside the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal, require_principal
from ticketing.core.enums import EventKind, Priority, TicketType
from ticketing.core.errors import InvalidInput, MissingServiceAddress, TicketNotFound
from ticketing.core.fields import check_storable, normalize_priority
from ticketing.db.rls import bind_scope
from ticketing.sla import ticket_clock as clock
from ticketing.sla.service import utcnow
from ticketing.tickets import repository as repo
from ticketing.tickets.info import ticket_info
from ticketing.tickets.lifecycle import require_support_side
from ticketing.tickets.models import Ticket
from ticketing.tickets.numbering import ticket_ref
from ticketing.tickets.schemas import TicketInfo


class TicketProperties:
    """Priority and type changes for one Principal (the support side only)."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = require_principal(principal, "TicketProperties")
        bind_scope(session, self.principal)

    async def change_priority(
        self,
        ticket: uuid.UUID | str,
        priority: Priority | str,
        *,
        actor: str | None = None,
        now: datetime | None = None,
    ) -> TicketInfo:
        """Re-target the due dates; elapsed and paused time are kept."""
        require_support_side(self.principal, "change a ticket's priority")
        try:
            new = Priority(normalize_priority(priority))
        except ValueError:
            raise InvalidInput("priority", priority, "is not low, normal, high or urgent") from None
        row = await self._load(ticket)
        old, row.priority = row.priority, new
        return await self._retargeted(
            row, EventKind.PRIORITY_CHANGED, old.value, new.value, actor, now
        )

    async def change_type(
        self,
        ticket: uuid.UUID | str,
        ticket_type: TicketType | str,
        *,
        actor: str | None = None,
        now: datetime | None = None,
    ) -> TicketInfo:
        """Re-target the due dates to the new type's targets and calendar; elapsed and paused
        time are kept. The same type again changes nothing (no event)."""
        require_support_side(self.principal, "change a ticket's type")
        try:
            new = TicketType(ticket_type)
        except ValueError:
            raise InvalidInput("ticket_type", ticket_type, "is not a ticket type") from None
        row = await self._load(ticket)
        if new is row.ticket_type:
            return ticket_info(row)
        if new is TicketType.INSTALLATION_REQUEST and not row.service_address:
            raise MissingServiceAddress(
                "ticket_type", new.value, "installation_request needs a service_address"
            )
        old, row.ticket_type = row.ticket_type, new
        return await self._retargeted(row, EventKind.TYPE_CHANGED, old.value, new.value, actor, now)

    async def _retargeted(
        self,
        row: Ticket,
        kind: EventKind,
        old: str,
        new: str,
        actor: str | None,
        now: datetime | None,
    ) -> TicketInfo:
        now = now or utcnow()
        actor = actor if actor is not None else self.principal.name
        check_storable(actor=actor)
        repo.add_event(self.session, row.id, kind, now, actor=actor, data={"from": old, "to": new})
        await clock.store_due_dates(self.session, row, now)
        row.updated_at = now
        await self.session.flush()
        return ticket_info(row)

    async def _load(self, ticket: uuid.UUID | str) -> Ticket:
        row = await repo.find_ticket(
            self.session, self.principal, ticket_ref(ticket), for_update=True
        )
        if row is None:
            raise TicketNotFound(ticket if isinstance(ticket, str) else str(ticket))
        return row
