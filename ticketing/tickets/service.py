"""Ticket rules: create, read, reply, move, assign, inside the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal, Role, require_principal
from ticketing.core.enums import DONE_STATUSES, Actor, EventKind, Priority, TicketStatus, TicketType
from ticketing.core.errors import (
    Forbidden,
    InvalidInput,
    TicketNotFound,
)
from ticketing.core.fields import check_storable
from ticketing.db.rls import bind_scope
from ticketing.outages.repository import outage_is_active
from ticketing.sla import ticket_clock as clock
from ticketing.sla.service import utcnow
from ticketing.tickets import list_repository as lists
from ticketing.tickets import repository as repo
from ticketing.tickets.assignment import check_assignees
from ticketing.tickets.creation import ANY_DOOR, Created, DoorRules
from ticketing.tickets.creator import TicketCreator
from ticketing.tickets.info import decode_cursor, encode_cursor, ticket_info
from ticketing.tickets.lifecycle import (
    CUSTOMER_EVENTS,
    check_transition,
    message_side,
    repeats_confirmation,
    require_support_side,
    settle_dates,
    status_after_customer_reply,
    status_change_reason,
)
from ticketing.tickets.models import Ticket, TicketMessage
from ticketing.tickets.numbering import ticket_ref
from ticketing.tickets.properties import TicketProperties
from ticketing.tickets.schemas import (
    CreateTicketRequest,
    TicketEventInfo,
    TicketInfo,
    TicketMessageInfo,
    TicketPage,
)

log = structlog.get_logger(__name__)
# A survivor merged again; a chain this long is no chain a person made.
_MAX_MERGE_HOPS = 10


class TicketService:
    """Tickets as one Principal may see and change them; another scope's ticket is reported
    exactly like a missing one."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = require_principal(principal, "TicketService")
        bind_scope(session, self.principal)

    # -- creation --------------------------------------------------------------------------

    async def create_ticket(
        self, request: CreateTicketRequest | dict[str, object], *, now: datetime | None = None
    ) -> TicketInfo:
        """Create a ticket inside the caller's transaction, or return the one already created
        for this idempotency key."""
        return (await self.create_in_transaction(request, now=now)).ticket

    async def create_in_transaction(
        self,
        request: CreateTicketRequest | dict[str, object],
        *,
        now: datetime | None = None,
        rules: DoorRules = ANY_DOOR,
    ) -> Created:
        """As `create_ticket`, with what the flow does next (see Created)."""
        return await self._create(request, now, alone=False, rules=rules)

    async def create_ticket_alone(
        self,
        request: CreateTicketRequest | dict[str, object],
        *,
        now: datetime | None = None,
        rules: DoorRules = ANY_DOOR,
    ) -> Created:
        """As `create_ticket`, for a session with no transaction yet, when the create is the
        whole unit of work: it commits by itself, a read and one atomic insert. `rules`: the
        HTTP doors' stricter ones (see DoorRules)."""
        if self.session.in_transaction():
            raise RuntimeError("create_ticket_alone needs a session with no transaction")
        return await self._create(request, now, alone=True, rules=rules)

    async def _create(
        self,
        request: CreateTicketRequest | dict[str, object],
        now: datetime | None,
        *,
        alone: bool,
        rules: DoorRules = ANY_DOOR,
    ) -> Created:
        creator = TicketCreator(self.session, self.principal, self.get_ticket)
        return await creator.create(request, now, alone=alone, rules=rules)

    # -- reads -----------------------------------------------------------------------------

    async def get_ticket(self, ticket: uuid.UUID | str) -> TicketInfo:
        return ticket_info(await self._load(ticket))

    async def timeline(
        self, ticket: uuid.UUID | str
    ) -> tuple[list[TicketMessageInfo], list[TicketEventInfo]]:
        """Messages and events; a customer sees public messages and its own kind of events."""
        row = await self._load(ticket)
        customer = self.principal.is_customer
        messages = [
            TicketMessageInfo(
                author_actor=m.author_actor,
                author=m.author,
                body=m.body,
                is_internal=m.is_internal,
                created_at=m.created_at,
                id=m.id,
            )
            for m in await repo.messages(self.session, row.id, public_only=customer)
        ]
        events = [
            TicketEventInfo(kind=e.kind, actor=e.actor, data=e.data, created_at=e.created_at)
            for e in await repo.events(
                self.session, row.id, kinds=CUSTOMER_EVENTS if customer else None
            )
        ]
        return messages, events

    async def list_tickets(
        self,
        *,
        status: TicketStatus | None = None,
        priority: Priority | None = None,
        ticket_type: str | None = None,
        assigned_to: str | None = None,
        assigned_team: str | None = None,
        breached: bool | None = None,
        search: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        statuses: frozenset[TicketStatus] | None = None,
        tenant_id: str | None = None,
        outage: bool | None = None,
    ) -> TicketPage:
        """Newest first, keyset-paginated on the ticket number; `statuses`: any of them."""
        if not 1 <= limit <= 500:
            raise InvalidInput("limit", limit, "must be between 1 and 500")
        check_storable(
            ticket_type=ticket_type,
            assigned_to=assigned_to,
            assigned_team=assigned_team,
            search=search,
            tenant_id=tenant_id,
        )
        filters = lists.TicketFilters(
            status=TicketStatus(status) if status is not None else None,
            priority=Priority(priority) if priority is not None else None,
            ticket_type=ticket_type,
            assigned_to=assigned_to,
            assigned_team=assigned_team,
            breached=breached,
            search=search or None,
            before_number=decode_cursor(cursor) if cursor is not None else None,
            statuses=statuses,
            tenant_id=tenant_id,
            outage=outage,
        )
        rows = await lists.list_tickets(self.session, self.principal, filters, limit + 1)
        next_cursor = encode_cursor(rows[limit - 1].number) if len(rows) > limit else None
        return TicketPage(items=[ticket_info(r) for r in rows[:limit]], next_cursor=next_cursor)

    async def status_counts(self, tenant_id: str | None = None) -> dict[TicketStatus, int]:
        """Tickets per status the principal sees (one tenant's, if named)."""
        check_storable(tenant_id=tenant_id)
        return await lists.count_by_status(self.session, self.principal, tenant_id)

    # -- lifecycle -------------------------------------------------------------------------

    async def add_message(
        self,
        ticket: uuid.UUID | str,
        *,
        body: str,
        author_actor: Actor | str | None = None,
        author: str | None = None,
        is_internal: bool = False,
        now: datetime | None = None,
    ) -> TicketInfo:
        """Add a reply or note; the assigned side's first public reply meets first response."""
        now = now or utcnow()
        actor = message_side(self.principal, author_actor)
        if is_internal and actor is Actor.CUSTOMER:
            raise Forbidden("add internal notes")
        author = author if author is not None else self.principal.name
        check_storable(body=body, author=author)
        if not body.strip():
            raise InvalidInput("body", body, "must not be empty")
        row = await self._survivor(await self._load(ticket, for_update=True))
        answers = not is_internal and actor not in (Actor.CUSTOMER, row.origin_type)
        # Any public support message keeps the customer in the loop, whichever side wrote it.
        told = not is_internal and actor is not Actor.CUSTOMER
        settles = clock.ANSWERED_WINDOWS if answers else clock.TOLD_WINDOWS if told else None
        # Before the answer is written: the windows it settles are judged as they stood.
        if settles and await clock.record_missed_breaches(self.session, row.id, settles, now):
            row.sla_breached = True
        self.session.add(
            TicketMessage(
                ticket_id=row.id,
                author_actor=actor,
                author=author,
                body=body,
                is_internal=is_internal,
                created_at=now,
            )
        )
        kind = EventKind.NOTE_ADDED if is_internal else EventKind.REPLIED
        repo.add_event(
            self.session, row.id, kind, now, actor=author, data={"author_actor": actor.value}
        )
        if answers and row.first_response_at is None:
            row.first_response_at = now
            await clock.store_due_dates(self.session, row, now)
        elif actor is Actor.CUSTOMER and not is_internal:
            await self._customer_answered(row, author, now)
        row.updated_at = now
        await self.session.flush()
        return ticket_info(row)

    async def _customer_answered(self, row: Ticket, author: str | None, now: datetime) -> None:
        """The customer's public reply ends a wait on them and reopens a resolved ticket."""
        back = status_after_customer_reply(row.status, responded=row.first_response_at is not None)
        if back is not None:
            await self._move(row, back, actor=author, now=now, reason="customer_replied")

    async def change_status(
        self,
        ticket: uuid.UUID | str,
        status: TicketStatus | str,
        *,
        actor: str | None = None,
        now: datetime | None = None,
    ) -> TicketInfo:
        """Move the ticket; a customer may only confirm a resolution (resolved to closed)."""
        now = now or utcnow()
        try:
            requested = TicketStatus(status)
        except ValueError:
            raise InvalidInput("status", status, "is not a ticket status") from None
        actor = actor if actor is not None else self.principal.name
        check_storable(actor=actor)
        row = await self._load(ticket, for_update=True)
        if repeats_confirmation(self.principal, row.status, requested):
            return ticket_info(row)
        reason = status_change_reason(self.principal, row.status, requested)
        check_transition(row.status, requested)
        await self._move(row, requested, actor=actor, now=now, reason=reason)
        await self.session.flush()
        return ticket_info(row)

    async def _move(
        self,
        row: Ticket,
        requested: TicketStatus,
        *,
        actor: str | None,
        now: datetime,
        reason: str | None = None,
    ) -> None:
        """Apply a transition already checked: clocks, breaches found now, dates, events."""
        current = row.status
        policy = await clock.policy_of(self.session, row.tenant_id)
        if requested in DONE_STATUSES and await clock.record_missed_breaches(
            self.session, row.id, clock.ALL_WINDOWS, now
        ):
            row.sla_breached = True
        held = row.outage_number is not None and await outage_is_active(
            self.session, row.tenant_id, row.outage_number
        )
        pause_event = clock.move_pauses(row, requested, policy, now, held=held)
        # Only waiting on the customer shows as a pause; resolved and closed say so themselves.
        if pause_event is not None and TicketStatus.PENDING in (current, requested):
            repo.add_event(self.session, row.id, pause_event, now, actor=actor)
        settle_dates(row, current, requested, now)
        row.status = requested
        data = {"from": current.value, "to": requested.value}
        if reason is not None:
            data["reason"] = reason
        repo.add_event(self.session, row.id, EventKind.STATUS_CHANGED, now, actor=actor, data=data)
        await clock.store_due_dates(self.session, row, now, policy)
        row.updated_at = now

    async def assign(
        self,
        ticket: uuid.UUID | str,
        *,
        assigned_to: str | None,
        assigned_team: str | None = None,
        actor: str | None = None,
        now: datetime | None = None,
    ) -> TicketInfo:
        """Name the agent (None: nobody) and, if given, the team; both must be the ticket
        tenant's own, whoever assigns."""
        require_support_side(self.principal, "assign tickets")
        now = now or utcnow()
        actor = actor if actor is not None else self.principal.name
        check_storable(assigned_to=assigned_to, assigned_team=assigned_team, actor=actor)
        row = await self._load(ticket, for_update=True)
        to = assigned_to if assigned_to != row.assigned_to else None
        team = assigned_team if assigned_team != row.assigned_team else None
        await check_assignees(self.session, row.tenant_id, to, team)
        row.assigned_to = assigned_to
        if assigned_team is not None:
            row.assigned_team = assigned_team
            row.context = {
                **row.context,
                "assigned_team": assigned_team,
                "routing": {"team": assigned_team},
            }
        repo.add_event(
            self.session,
            row.id,
            EventKind.ASSIGNED,
            now,
            actor=actor,
            data={"assigned_to": assigned_to, "assigned_team": row.assigned_team},
        )
        row.updated_at = now
        await self.session.flush()
        return ticket_info(row)

    async def change_priority(
        self,
        ticket: uuid.UUID | str,
        priority: Priority | str,
        *,
        actor: str | None = None,
        now: datetime | None = None,
    ) -> TicketInfo:
        """Re-target the due dates; elapsed and paused time are kept."""
        return await TicketProperties(self.session, self.principal).change_priority(
            ticket, priority, actor=actor, now=now
        )

    async def change_type(
        self,
        ticket: uuid.UUID | str,
        ticket_type: TicketType | str,
        *,
        actor: str | None = None,
        now: datetime | None = None,
    ) -> TicketInfo:
        """Re-target the due dates to the new type's targets; elapsed and paused time kept."""
        return await TicketProperties(self.session, self.principal).change_type(
            ticket, ticket_type, actor=actor, now=now
        )

    # -- helpers ---------------------------------------------------------------------------

    async def close_merged(self, row: Ticket, actor: str | None, now: datetime) -> None:
        """Close a ticket just merged into another (TicketMerger holds its row lock)."""
        await self._move(row, TicketStatus.CLOSED, actor=actor, now=now, reason="merged")

    async def _survivor(self, row: Ticket) -> Ticket:
        """The ticket a reply to `row` belongs on: `row`, or (merged) the ticket it was merged
        into, locked. Mail to a merged ticket's thread lands on the survivor this way."""
        for _ in range(_MAX_MERGE_HOPS):
            if row.merged_into is None:
                return row
            # The survivor is of the same tenant; an admin's merge may have made it another
            # customer's, which the replying customer still reaches through this one ticket.
            scope = Principal(Role.SYSTEM, ticket_id=row.merged_into, name=self.principal.name)
            survivor = await repo.find_ticket(self.session, scope, row.merged_into, for_update=True)
            if survivor is None:
                return row
            row = survivor
        return row

    async def _load(self, ticket: uuid.UUID | str, *, for_update: bool = False) -> Ticket:
        row = await repo.find_ticket(
            self.session, self.principal, ticket_ref(ticket), for_update=for_update
        )
        if row is None:
            raise TicketNotFound(ticket if isinstance(ticket, str) else str(ticket))
        return row
