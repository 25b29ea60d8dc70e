"""The CLI's wiring of the tickets flow: the flow decides what follows a commit, not the CLI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from ticketing.auth.principal import Principal
from ticketing.runtime.settings import Settings
from ticketing.temporal.schemas import TicketInfo
from ticketing_ops.cli.context import database, temporal
from ticketing_ops.cli.errors import to_cli_error

if TYPE_CHECKING:
    from ticketing.tickets.flows import TicketFlows


class OperatorWatchers:
    """The watchers port for the CLI: a committed change stands even when Temporal is out of
    reach; the failure becomes a warning and the reconciler repairs the watcher."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.warning: str | None = None

    async def ensure(self, ticket: TicketInfo) -> None:
        from ticketing.temporal.watchers import TemporalWatchers

        try:
            port = TemporalWatchers(await temporal(self.settings), self.settings.task_queue)
            await port.ensure(ticket)
        except Exception as exc:  # noqa: BLE001 - the change is committed; see the class
            self.warning = to_cli_error(exc).message

    async def wake(self, ticket: TicketInfo) -> None:
        from ticketing.temporal.watchers import TemporalWatchers

        try:
            port = TemporalWatchers(await temporal(self.settings), self.settings.task_queue)
            await port.wake(ticket)
        except Exception as exc:  # noqa: BLE001 - the change is committed; see the class
            self.warning = to_cli_error(exc).message


@asynccontextmanager
async def ticket_flows(
    settings: Settings, principal: Principal, watchers: OperatorWatchers
) -> AsyncIterator[TicketFlows]:
    """The tickets flow as the operator at the machine runs it: notices delivered directly."""
    from ticketing.notifications.mailer import Notifier
    from ticketing.notifications.service import DirectDelivery
    from ticketing.tickets.flows import TicketFlows

    async with database(settings) as sessions:
        yield TicketFlows(
            sessions,
            principal,
            watchers=watchers,
            notices=DirectDelivery(sessions, Notifier.from_settings(settings)),
        )
