"""What the ticket flows need done after a commit, implemented by the Temporal side."""

from __future__ import annotations

import uuid
from typing import Protocol

from ticketing.tickets.schemas import TicketInfo


class Watchers(Protocol):
    """Each ticket's SLA watcher."""

    async def ensure(self, ticket: TicketInfo) -> None:
        """Start the ticket's watcher unless one already watches that ticket."""

    async def wake(self, ticket: TicketInfo) -> None:
        """Tell the watcher the ticket changed; start one again if it had ended."""


class Notices(Protocol):
    """Hands queued outbox rows to delivery."""

    async def hand_over(self, ticket_id: uuid.UUID) -> None:
        """Tell delivery the ticket has queued notices; never sends on the caller's path and
        never raises for a delivery problem."""


class NoWatchers:
    """For a process with no Temporal client (embedding, tests of the database alone): the
    reconciler starts the watchers such a process could not."""

    async def ensure(self, ticket: TicketInfo) -> None:
        return None

    async def wake(self, ticket: TicketInfo) -> None:
        return None
