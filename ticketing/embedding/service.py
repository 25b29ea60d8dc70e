"""`TicketingService`: tickets from Python, through the same flows every other door uses."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ticketing.auth.principal import Principal, require_principal
from ticketing.core.enums import Channel, Priority, TicketStatus, TicketType
from ticketing.db.engine import make_sessionmaker
from ticketing.notifications.service import QueueOnly
from ticketing.readmodels.ticket_detail import TicketDetail, ticket_detail
from ticketing.tickets.flows import TicketFlows
from ticketing.tickets.ports import Notices, NoWatchers, Watchers
from ticketing.tickets.schemas import TicketInfo


class TicketingService:
    """Create and work tickets for one `Principal`, without Temporal.

    Built with a session factory (or an engine) and the principal it acts for; there is no
    unscoped default. Each call is one transaction through `TicketFlows`, exactly as the HTTP
    API, the CLI and the `create_ticket` activity run it: gap-free numbers, idempotency keys,
    row-level security, the outbox. Without ports, watchers are left to the reconciler (a
    worker's schedule starts them) and notices wait in the outbox for the dispatcher; pass
    `watchers`/`notices` to do either yourself.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession] | AsyncEngine,
        principal: Principal,
        *,
        watchers: Watchers | None = None,
        notices: Notices | None = None,
    ) -> None:
        require_principal(principal, "TicketingService")
        if isinstance(sessions, AsyncEngine):
            sessions = make_sessionmaker(sessions)
        self.sessions = sessions
        self.principal = principal
        self.flows = TicketFlows(
            sessions,
            principal,
            watchers=watchers or NoWatchers(),
            notices=notices or QueueOnly(),
        )

    async def create_ticket(
        self,
        title: str,
        description: str,
        customer_id: str | int | uuid.UUID,
        priority: Priority | str = "normal",
        assigned_team: str | None = None,
        tenant_id: str | None = None,
        ticket_type: TicketType | str | None = None,
        service_address: str | None = None,
        *,
        affected_services: Sequence[str] = (),
        device_serial_numbers: Sequence[str] = (),
        channel: Channel | str = Channel.API,
        requester_email: str | None = None,
        idempotency_key: str | None = None,
        metadata: Mapping[str, object] | None = None,
    ) -> TicketInfo:
        """Create a ticket (or, with an `idempotency_key` already used, return that ticket).

        Bad input raises a `ticketing.core.errors` error naming the field; nothing is stored.
        """
        fields: dict[str, object] = {
            "title": title,
            "description": description,
            "customer_id": customer_id,
            "priority": priority,
            "assigned_team": assigned_team,
            "tenant_id": tenant_id,
            "service_address": service_address,
            "affected_services": list(affected_services),
            "device_serial_numbers": list(device_serial_numbers),
            "channel": channel,
            "requester_email": requester_email,
            "idempotency_key": idempotency_key,
            "metadata": dict(metadata or {}),
        }
        if ticket_type is not None:
            fields["ticket_type"] = ticket_type
        return await self.flows.create(fields)

    async def get_ticket(self, ticket: uuid.UUID | str) -> TicketInfo:
        """The ticket by number (TKT-…) or id; another scope's ticket is `TicketNotFound`."""
        async with self.sessions() as session:
            return (await ticket_detail(session, self.principal, ticket)).ticket

    async def ticket_detail(self, ticket: uuid.UUID | str) -> TicketDetail:
        """The ticket with its timeline, notices and SLA figures, as the API shows it."""
        async with self.sessions() as session:
            return await ticket_detail(session, self.principal, ticket)

    async def reply(
        self, ticket: uuid.UUID | str, body: str, *, internal: bool = False
    ) -> TicketInfo:
        """A public reply (or an internal note) by the principal's side."""
        return await self.flows.reply(ticket, body=body, is_internal=internal)

    async def change_status(
        self, ticket: uuid.UUID | str, status: TicketStatus | str, *, now: datetime | None = None
    ) -> TicketInfo:
        return await self.flows.change_status(ticket, status, now=now)

