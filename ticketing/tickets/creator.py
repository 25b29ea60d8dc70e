"""Creating a ticket inside the caller's scope: the customer and its tenant read, the one
atomic insert, and an idempotency key's replay (refused when the key came with another request)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal
from ticketing.core.errors import (
    CustomerNotFound,
    InvalidInput,
    TenantNotFound,
)
from ticketing.core.fields import parse
from ticketing.sla.service import tenant_policy, utcnow
from ticketing.tenants import repository as tenants_repo
from ticketing.tickets import creation
from ticketing.tickets import repository as repo
from ticketing.tickets.context_repository import CreateContext, create_context
from ticketing.tickets.creation import ANY_DOOR, Created, DoorRules, new_ticket
from ticketing.tickets.info import created_info
from ticketing.tickets.lifecycle import create_scope
from ticketing.tickets.schemas import CreateTicketRequest, TicketInfo

log = structlog.get_logger(__name__)


class TicketCreator:
    """One create for one principal; `read` returns a ticket already made (as the service
    reads it, scoped)."""

    def __init__(
        self,
        session: AsyncSession,
        principal: Principal,
        read: Callable[[uuid.UUID], Awaitable[TicketInfo]],
    ) -> None:
        self.session = session
        self.principal = principal
        self.read = read

    async def create(
        self,
        request: CreateTicketRequest | dict[str, object],
        now: datetime | None,
        *,
        alone: bool,
        rules: DoorRules = ANY_DOOR,
    ) -> Created:
        request = parse(CreateTicketRequest, request)
        request.check_rules()
        tenant_id, customer_id = create_scope(self.principal, request)
        fingerprint = creation.fingerprint_for(request, rules)
        found = await create_context(
            self.session,
            tenant_id=tenant_id,
            customer_id=customer_id,
            idempotency_key=request.idempotency_key,
            team=request.assigned_team,
            alone=alone,
        )
        if not found:
            if tenant_id is not None and (
                await tenants_repo.get_tenant(self.session, tenant_id) is None
            ):
                raise TenantNotFound(tenant_id)
            raise CustomerNotFound(request.customer_id)
        if len(found) > 1:
            raise InvalidInput(
                "tenant_id", None, "is required: several tenants have a customer with this id"
            )
        ctx = found[0]
        if ctx.existing_ticket_id is not None:
            return await self._replayed(ctx, fingerprint)
        creation.check_new_team(request, ctx, rules)
        now = now or utcnow()
        policy = tenant_policy(ctx.sla_policy, ctx.calendar)
        new = new_ticket(request, ctx, policy, now, fingerprint)
        number = await repo.insert_ticket(self.session, new, alone=alone)
        if number is None:
            # Lost a race on the same idempotency key: the winner committed first.
            [ctx] = await create_context(
                self.session,
                tenant_id=ctx.tenant_id,
                customer_id=ctx.customer_id,
                idempotency_key=request.idempotency_key,
                team=request.assigned_team,
                alone=False,
            )
            return await self._replayed(ctx, fingerprint)
        ticket = created_info(new, number)
        log.info(
            "ticket_created",
            ticket_number=ticket.ticket_number,
            tenant_id=new.tenant_id,
            channel=new.channel.value,
        )
        return Created(ticket, ctx.team_assigns, ctx.outage_active)

    async def _replayed(self, ctx: CreateContext, fingerprint: str | None) -> Created:
        """The ticket already made for the key; refused when the key came with another
        request (see creation.check_replay)."""
        creation.check_replay(ctx, fingerprint)
        assert ctx.existing_ticket_id is not None
        return Created(
            await self.read(ctx.existing_ticket_id), ctx.team_assigns, ctx.outage_active, new=False
        )
