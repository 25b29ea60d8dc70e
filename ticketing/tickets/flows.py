"""Ticket commands with their after-commit duties: each runs in one transaction, then makes
sure the ticket is watched (or its watcher woken) and its notices handed over."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal, Role
from ticketing.core.enums import (
    DONE_STATUSES,
    Actor,
    EventKind,
    NoticeKind,
    Priority,
    TicketStatus,
    TicketType,
)
from ticketing.db.rls import bind_scope
from ticketing.notifications.service import NotificationService
from ticketing.outages.linking import link_new_ticket
from ticketing.sla import pending_repository as pending
from ticketing.sla.service import utcnow
from ticketing.teams.service import assign_by_team
from ticketing.tenants.flows import upsert_following_plan
from ticketing.tenants.schemas import UpsertCustomerInput
from ticketing.tickets import repository as tickets_repo
from ticketing.tickets.creation import ANY_DOOR, DoorRules
from ticketing.tickets.duties import AfterCommit, Flow
from ticketing.tickets.merge import TicketMerger
from ticketing.tickets.schemas import CreateTicketRequest, Merged, StatusChangeInput, TicketInfo
from ticketing.tickets.service import TicketService

T = TypeVar("T")
# More work of the caller's in the command's own transaction (a mail's outcome, its
# attachments): it commits with the ticket change or neither does.
Also = Callable[[AsyncSession, TicketInfo], Awaitable[None]]


class TicketFlows(Flow):
    """Every channel (activities, CLI, HTTP, mail) changes tickets through here, never through
    the service plus follow-ups of its own."""

    def _tickets(self, session: AsyncSession) -> TicketService:
        return TicketService(session, self.principal)

    async def _created(
        self, ticket: TicketInfo, *, team_assigns: bool, outage_active: bool = False
    ) -> TicketInfo:
        if team_assigns and ticket.assigned_to is None:
            # Right after the create, not in it: the create keeps its one self-committing
            # statement and never waits on a team lock; a replay assigns a ticket a crash left
            # unassigned, and a person's assignment is never overridden.
            async with self.sessions() as session, session.begin():
                bind_scope(session, self.principal)
                ticket = await assign_by_team(session, ticket)
        if outage_active:
            # A customer behind an active outage (the create's own read says so; most creates
            # skip this): linked and answered at once, right after the create, as the team's
            # pick is (a replay links one a crash left unlinked).
            async with self.sessions() as session, session.begin():
                bind_scope(session, self.principal)
                ticket = await link_new_ticket(session, ticket, utcnow()) or ticket
        # Also on an idempotent replay: a retry after a crash between the commit and these
        # duties must still leave the ticket watched and its notice on its way.
        duties = AfterCommit()
        duties.watch(ticket)
        duties.hand_over(ticket.ticket_id)
        await self._flush(duties)
        return ticket

    async def create(
        self,
        request: CreateTicketRequest | dict[str, object],
        *,
        now: datetime | None = None,
        rules: DoorRules = ANY_DOOR,
        also: Also | None = None,
    ) -> TicketInfo:
        """Create (or return the already created) ticket; watch it and send its notice.
        `rules`: the HTTP doors' stricter ones (see DoorRules). `also`: more work that commits
        with a new ticket or not at all (its files); a replay of the key does not repeat it."""
        if also is not None:
            return await self._create_with(request, now=now, rules=rules, also=also)
        # The create is the whole unit of work: it commits by itself (no BEGIN/COMMIT).
        async with self.sessions() as session:
            created = await self._tickets(session).create_ticket_alone(
                request, now=now, rules=rules
            )
        return await self._created(
            created.ticket,
            team_assigns=created.team_assigns,
            outage_active=created.outage_active,
        )

    async def _create_with(
        self,
        request: CreateTicketRequest | dict[str, object],
        *,
        now: datetime | None,
        rules: DoorRules,
        also: Also,
    ) -> TicketInfo:
        async def command(session: AsyncSession, duties: AfterCommit) -> TicketInfo:
            tickets = self._tickets(session)
            created = await tickets.create_in_transaction(request, now=now, rules=rules)
            ticket = await assign_by_team(session, created.ticket)
            if created.outage_active:
                ticket = await link_new_ticket(session, ticket, utcnow()) or ticket
            if created.new:
                await also(session, ticket)
            return ticket

        return await self._created(await self._committed(command), team_assigns=False)

    async def open_for_customer(
        self,
        customer: UpsertCustomerInput,
        request: CreateTicketRequest,
        *,
        also: Also | None = None,
    ) -> TicketInfo:
        """Upsert the customer and create its ticket in one transaction, then as `create`."""

        async def command(session: AsyncSession, duties: AfterCommit) -> TicketInfo:
            _, moved = await upsert_following_plan(session, self.principal, customer)
            for ticket_id in moved:
                duties.wake(ticket_id)
            created = await self._tickets(session).create_in_transaction(request)
            # In the create's own transaction: this path is already one.
            ticket = await assign_by_team(session, created.ticket)
            if created.outage_active:
                ticket = await link_new_ticket(session, ticket, utcnow()) or ticket
            if also is not None:
                await also(session, ticket)
            return ticket

        return await self._created(await self._committed(command), team_assigns=False)

    async def reply(
        self,
        ticket: uuid.UUID | str,
        *,
        body: str,
        author_actor: Actor | str | None = None,
        author: str | None = None,
        is_internal: bool = False,
        now: datetime | None = None,
        also: Also | None = None,
    ) -> TicketInfo:
        async def command(session: AsyncSession, duties: AfterCommit) -> TicketInfo:
            changed = await self._tickets(session).add_message(
                ticket,
                body=body,
                author_actor=author_actor,
                author=author,
                is_internal=is_internal,
                now=now,
            )
            await NotificationService(session, self.principal).queue_for_message(changed)
            if also is not None:
                await also(session, changed)
            duties.changed(changed)
            return changed

        return await self._committed(command)

    async def change_status(
        self,
        ticket: uuid.UUID | str,
        status: TicketStatus | str,
        *,
        actor: str | None = None,
        now: datetime | None = None,
    ) -> TicketInfo:
        async def command(session: AsyncSession, duties: AfterCommit) -> TicketInfo:
            changed = await self._tickets(session).change_status(
                ticket, status, actor=actor, now=now
            )
            await NotificationService(session, self.principal).queue_for_status_change(changed)
            duties.changed(changed)
            return changed

        return await self._committed(command)

    async def settle_status(self, change: StatusChangeInput) -> TicketInfo:
        """Move a ticket for a workflow, with an optional note; already there is success."""

        async def command(session: AsyncSession, duties: AfterCommit) -> TicketInfo:
            service = self._tickets(session)
            ticket = await service.get_ticket(change.ticket_id)
            # Asked to finish a ticket someone already finished: it is done either way.
            settled = ticket.status is change.status or (
                ticket.status in DONE_STATUSES and change.status in DONE_STATUSES
            )
            if settled:
                # Also when nothing changed: a retry after an attempt that committed but never
                # reached the watcher must still wake it, or it sleeps on a finished ticket
                # until its timer.
                duties.changed(ticket)
                return ticket
            notices = NotificationService(session, self.principal)
            if change.note:
                noted = await service.add_message(
                    change.ticket_id,
                    body=change.note,
                    author_actor=Actor.TENANT,
                    author=change.actor,
                    is_internal=not change.note_is_public,
                    now=change.now,
                )
                await notices.queue_for_message(noted)
            changed = await service.change_status(
                change.ticket_id, change.status, actor=change.actor, now=change.now
            )
            await notices.queue_for_status_change(changed)
            duties.changed(changed)
            return changed

        return await self._committed(command)

    async def assign(
        self,
        ticket: uuid.UUID | str,
        *,
        assigned_to: str | None,
        assigned_team: str | None = None,
        actor: str | None = None,
    ) -> TicketInfo:

        async def command(session: AsyncSession, duties: AfterCommit) -> TicketInfo:
            changed = await self._tickets(session).assign(
                ticket, assigned_to=assigned_to, assigned_team=assigned_team, actor=actor
            )
            duties.changed(changed)
            return changed

        return await self._committed(command)

    async def change_priority(
        self, ticket: uuid.UUID | str, priority: Priority | str, *, actor: str | None = None
    ) -> TicketInfo:

        async def command(session: AsyncSession, duties: AfterCommit) -> TicketInfo:
            changed = await self._tickets(session).change_priority(ticket, priority, actor=actor)
            duties.changed(changed)
            return changed

        return await self._committed(command)

    async def change_type(
        self,
        ticket: uuid.UUID | str,
        ticket_type: TicketType | str,
        *,
        actor: str | None = None,
        now: datetime | None = None,
    ) -> TicketInfo:
        """Change the type (the desk's properties form, PATCH, `ticket type`): its due dates
        follow the new type's targets and its watcher re-reads them."""

        async def command(session: AsyncSession, duties: AfterCommit) -> TicketInfo:
            changed = await self._tickets(session).change_type(
                ticket, ticket_type, actor=actor, now=now
            )
            duties.changed(changed)
            return changed

        return await self._committed(command)

    async def merge(
        self,
        ticket: uuid.UUID | str,
        into: uuid.UUID | str,
        *,
        actor: str | None = None,
        now: datetime | None = None,
    ) -> Merged:
        """Merge a duplicate into `into`: its thread moves, it closes with a pointer, its
        customer hears once; idempotent."""

        async def command(session: AsyncSession, duties: AfterCommit) -> Merged:
            merged = await TicketMerger(session, self.principal).merge(
                ticket, into, actor=actor, now=now
            )
            if merged.merged_now:
                await NotificationService(session, self.principal).queue_merged(
                    merged.ticket, merged.into.ticket_number
                )
            # Also on a retry: the duplicate's watcher must end (woken on a done ticket it
            # completes) and the survivor's re-read its due dates.
            duties.changed(merged.ticket)
            duties.changed(merged.into)
            return merged

        return await self._committed(command)

    async def sweep_pending(self, now: datetime, *, limit: int = 200) -> int:
        """Close the tickets waiting on their customer past the policy's pending close, then
        remind those past its pending reminder (once per wait); each in its own transaction.
        Run by the reconciler's schedule; returns how many closed."""
        closed = 0
        for ticket_id in await self._pending_past(pending.CLOSE, now, limit):
            closed += await self._committed(partial(_close_if_still_waiting, ticket_id, now))
        for ticket_id in await self._pending_past(pending.REMINDER, now, limit):
            await self._committed(partial(_remind_if_still_waiting, ticket_id, now))
        return closed

    async def _pending_past(self, key: str, now: datetime, limit: int) -> list[uuid.UUID]:
        async with self.sessions() as session:
            bind_scope(session, self.principal)
            return await pending.pending_past(session, key, now=now, limit=limit)


async def _close_if_still_waiting(
    ticket_id: uuid.UUID, now: datetime, session: AsyncSession, duties: AfterCommit
) -> int:
    """Close one ticket still waiting on its customer past the pending close; 1 if closed."""
    since = await pending.lock_if_pending_past(session, pending.CLOSE, ticket_id, now)
    if since is None:
        return 0
    system = Principal(Role.SYSTEM, ticket_id=ticket_id, name="pending-close")
    ticket = await TicketService(session, system).change_status(
        ticket_id, TicketStatus.CLOSED, now=now
    )
    await NotificationService(session, system).queue_pending(
        ticket, NoticeKind.PENDING_CLOSED, since
    )
    duties.changed(ticket)
    return 1


async def _remind_if_still_waiting(
    ticket_id: uuid.UUID, now: datetime, session: AsyncSession, duties: AfterCommit
) -> None:
    """Remind the customer of one ticket still waiting on them, once per wait."""
    since = await pending.lock_if_pending_past(session, pending.REMINDER, ticket_id, now)
    if since is None:
        return
    system = Principal(Role.SYSTEM, ticket_id=ticket_id, name="pending-reminder")
    tickets_repo.add_event(session, ticket_id, EventKind.REMINDED, now, actor=system.name)
    ticket = await TicketService(session, system).get_ticket(ticket_id)
    await NotificationService(session, system).queue_pending(
        ticket, NoticeKind.PENDING_REMINDER, since
    )
    duties.hand_over(ticket_id)
