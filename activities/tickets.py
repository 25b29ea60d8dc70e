"""TicketActivities: thin Temporal adapters over the flows, one transaction each."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.watchers import NoWatchers, TemporalWatchers
from ticketing.auth.principal import Principal, Role
from ticketing.core.errors import InvalidInput, TicketingError, non_retryable_error_types
from ticketing.notifications import repository as outbox
from ticketing.notifications.service import DirectDelivery
from ticketing.notify import Notifier
from ticketing.schemas import (
    BreachResult,
    CreateTicketRequest,
    EscalateInput,
    OpenTicketInput,
    RecordBreachInput,
    RegisterTenantInput,
    SendNotificationsInput,
    SlaSnapshot,
    SnapshotInput,
    StatusChangeInput,
    TicketInfo,
    UpsertCustomerInput,
    parse,
)
from ticketing.sla.flows import SlaFlows
from ticketing.sla.schemas import AutoCloseInput
from ticketing.tenants.service import TenantService
from ticketing.tickets.flows import TicketFlows
from ticketing.tickets.ports import Watchers

# Activity inputs are declared "the model, else anything": a malformed payload from another
# language then reaches our code and fails as a non-retryable InvalidInput naming the field,
# instead of the SDK's retryable "Failed decoding arguments" retried forever.
LenientCreateTicket = Annotated[CreateTicketRequest | Any, Field(union_mode="left_to_right")]
LenientOpenTicket = Annotated[OpenTicketInput | Any, Field(union_mode="left_to_right")]
LenientUpsertCustomer = Annotated[UpsertCustomerInput | Any, Field(union_mode="left_to_right")]
LenientRegisterTenant = Annotated[RegisterTenantInput | Any, Field(union_mode="left_to_right")]

# Derived from the error classes, so a new domain error is never retried by accident.
NON_RETRYABLE_ERRORS = non_retryable_error_types()


def domain_failure(error: TicketingError) -> ApplicationError:
    return ApplicationError(
        error.message, error.details(), type=type(error).__name__, non_retryable=True
    )


@asynccontextmanager
async def activity_boundary() -> AsyncIterator[None]:
    """Map what escapes a flow to Temporal failures: domain errors and refused values are
    final, infrastructure errors (connection lost, deadlock) are retried."""
    try:
        yield
    except TicketingError as error:
        raise domain_failure(error) from error
    except DataError as error:
        # The database refused a value (SQLSTATE class 22): retrying cannot help. Input
        # validation should have caught it first; this keeps a gap from becoming a loop.
        raise ApplicationError(
            f"database refused a value: {str(error.orig).splitlines()[0][:300]}",
            type="InvalidInput",
            non_retryable=True,
        ) from error
    except DBAPIError as error:
        # No exception chain: its tracebacks push the failure past the server's size limit
        # and the one-line cause is what an operator needs.
        raise ApplicationError(
            str(error.orig).splitlines()[0][:500], type=type(error.orig).__name__
        ) from None


class TicketActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        client: Client | None,
        notifier: Notifier,
        task_queue: str,
    ) -> None:
        self.sessions = sessions
        self.client = client
        self.notifier = notifier
        self.task_queue = task_queue
        self.delivery = DirectDelivery(sessions, notifier)
        self.watchers: Watchers = (
            TemporalWatchers(client, task_queue) if client is not None else NoWatchers()
        )

    def all(self) -> Sequence[Callable[..., Any]]:
        """Every method marked as an activity: registered without a hand-kept list."""
        return [
            getattr(self, name)
            for name, member in vars(type(self)).items()
            if hasattr(member, "__temporal_activity_definition")
        ]

    def _tickets(self, principal: Principal) -> TicketFlows:
        return TicketFlows(self.sessions, principal, watchers=self.watchers, notices=self.delivery)

    def _sla(self, ticket_id: uuid.UUID) -> SlaFlows:
        return SlaFlows(
            self.sessions,
            Principal.watcher(ticket_id),
            notices=self.delivery,
            watchers=self.watchers,
        )

    @activity.defn(name="create_ticket")
    async def create_ticket(self, request: LenientCreateTicket) -> TicketInfo:
        """Public: create (or return the already created) ticket of `tenant_id`, watched and
        announced."""
        async with activity_boundary():
            request = parse(CreateTicketRequest, request)
            if request.tenant_id is None:
                raise InvalidInput("tenant_id", None, "is required")
            flows = self._tickets(Principal.integration(request.tenant_id, name="workflow"))
            return await flows.create(request)

    @activity.defn(name="open_ticket")
    async def open_ticket(self, input: LenientOpenTicket) -> TicketInfo:
        """Upsert the customer and create its ticket in one transaction, then watch it."""
        async with activity_boundary():
            input = parse(OpenTicketInput, input)
            principal = Principal.integration(input.customer.tenant_id, name="workflow")
            return await self._tickets(principal).open_for_customer(input.customer, input.request)

    @activity.defn(name="upsert_customer")
    async def upsert_customer(self, input: LenientUpsertCustomer) -> str:
        async with activity_boundary():
            input = parse(UpsertCustomerInput, input)
            async with self.sessions() as session, session.begin():
                customer = await TenantService(
                    session, Principal.integration(input.tenant_id)
                ).upsert_customer(
                    tenant_id=input.tenant_id,
                    customer_id=input.customer_id,
                    email=input.email,
                    name=input.name,
                    plan=input.plan,
                )
                return customer.id

    @activity.defn(name="register_tenant")
    async def register_tenant(self, input: LenientRegisterTenant) -> str:
        async with activity_boundary():
            input = parse(RegisterTenantInput, input)
            async with self.sessions() as session, session.begin():
                await TenantService(session, Principal.platform()).register_tenant(
                    input.tenant_id,
                    name=input.name,
                    partner_id=input.partner_id,
                    timezone=input.timezone,
                    support_email=input.support_email,
                )
            # The policy (or a calendar's new zone) re-targets open tickets and wakes watchers.
            sla = SlaFlows(
                self.sessions, Principal.platform(), notices=self.delivery, watchers=self.watchers
            )
            if input.sla_policy is not None:
                await sla.set_policy(input.tenant_id, input.sla_policy)
            elif input.timezone is not None:
                await sla.retarget(input.tenant_id)
            return input.tenant_id

    @activity.defn(name="sla_snapshot")
    async def sla_snapshot(self, input: SnapshotInput) -> SlaSnapshot:
        async with activity_boundary():
            return await self._sla(input.ticket_id).snapshot(input.ticket_id, input.now)

    @activity.defn(name="record_breach")
    async def record_breach(self, input: RecordBreachInput) -> BreachResult:
        """Record the threshold (idempotent), then send every unsent notice of the ticket."""
        async with activity_boundary():
            flows = self._sla(input.ticket_id)
            return await flows.record_threshold(input.ticket_id, input.kind, input.now)

    @activity.defn(name="auto_close_resolved")
    async def auto_close_resolved(self, input: AutoCloseInput) -> int:
        """Internal (the reconciler's): close resolved tickets past their quiet period."""
        async with activity_boundary():
            flows = SlaFlows(
                self.sessions,
                Principal.reconciler(),
                notices=self.delivery,
                watchers=self.watchers,
            )
            return await flows.auto_close(input.now, limit=input.limit)

    @activity.defn(name="escalate_ticket")
    async def escalate_ticket(self, input: EscalateInput) -> TicketInfo:
        async with activity_boundary():
            flows = self._sla(input.ticket_id)
            return await flows.escalate(input.ticket_id, input.from_level, input.now)

    @activity.defn(name="change_ticket_status")
    async def change_ticket_status(self, input: StatusChangeInput) -> TicketInfo:
        """Move a ticket on behalf of a workflow; already in the target status is success."""
        async with activity_boundary():
            principal = Principal(Role.SYSTEM, ticket_id=input.ticket_id, name=input.actor)
            return await self._tickets(principal).settle_status(input)

    @activity.defn(name="send_notifications")
    async def send_notifications(self, input: SendNotificationsInput) -> int:
        return await self.delivery.deliver(input.notification_ids)

    @activity.defn(name="send_ticket_created")
    async def send_ticket_created(self, ticket_id: uuid.UUID) -> int:
        """Send the customer the ticket-created notice carrying its number (once)."""
        async with self.sessions() as session:
            ids = await outbox.notification_ids_by_key(session, f"ticket_created:{ticket_id}")
        return await self.delivery.deliver(ids)
