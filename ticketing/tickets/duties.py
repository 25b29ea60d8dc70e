"""After-commit duties: collected while a command's transaction runs, done once it committed.

A command records what must follow it (watch a new ticket, wake a changed ticket's watcher, hand
its queued notices to delivery) on an `AfterCommit`; the flow that ran the command flushes them
after the commit, so no door (HTTP, CLI, activity, mail) can forget one or run one early. A crash
between the commit and the flush is repaired by the reconciler.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.auth.principal import Principal
from ticketing.tickets.ports import Notices, Watchers
from ticketing.tickets.schemas import TicketInfo
from ticketing.tickets.service import TicketService

T = TypeVar("T")


class AfterCommit:
    """The duties one command collected; each ticket is watched, woken and handed over once."""

    def __init__(self) -> None:
        self._watch: dict[uuid.UUID, TicketInfo] = {}
        self._wake: dict[uuid.UUID, TicketInfo | None] = {}
        self._hand_over: dict[uuid.UUID, None] = {}

    def watch(self, ticket: TicketInfo) -> None:
        """Make sure the ticket has its watcher (a new ticket, or a replay of its create)."""
        self._watch[ticket.ticket_id] = ticket

    def wake(self, ticket: TicketInfo | uuid.UUID) -> None:
        """Tell the ticket's watcher it changed; by id when the command did not read it."""
        if isinstance(ticket, TicketInfo):
            self._wake[ticket.ticket_id] = ticket
        else:
            self._wake.setdefault(ticket, None)

    def hand_over(self, ticket_id: uuid.UUID) -> None:
        """Hand the ticket's queued notices to delivery."""
        self._hand_over[ticket_id] = None

    def changed(self, ticket: TicketInfo) -> None:
        """A ticket changed: its watcher re-reads it and its notices go out."""
        self.wake(ticket)
        self.hand_over(ticket.ticket_id)

    @property
    def empty(self) -> bool:
        return not (self._watch or self._wake or self._hand_over)


class Flow:
    """Runs commands in one transaction each and does their after-commit duties afterwards."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        principal: Principal,
        *,
        watchers: Watchers,
        notices: Notices,
    ) -> None:
        self.sessions = sessions
        self.principal = principal
        self.watchers = watchers
        self.notices = notices

    async def _committed(self, command: Callable[[AsyncSession, AfterCommit], Awaitable[T]]) -> T:
        """One transaction: committed on success (then the duties run), rolled back on error
        (then none do)."""
        duties = AfterCommit()
        async with self.sessions() as session, session.begin():
            result = await command(session, duties)
        await self._flush(duties)
        return result

    async def _flush(self, duties: AfterCommit) -> None:
        for ticket in duties._watch.values():
            await self.watchers.ensure(ticket)
        for ticket_id, known in duties._wake.items():
            if ticket_id in duties._watch:
                continue
            ticket = known or await self._read(ticket_id)
            await self.watchers.wake(ticket)
        for ticket_id in duties._hand_over:
            await self.notices.hand_over(ticket_id)

    async def _read(self, ticket_id: uuid.UUID) -> TicketInfo:
        async with self.sessions() as session:
            return await TicketService(session, self.principal).get_ticket(ticket_id)
