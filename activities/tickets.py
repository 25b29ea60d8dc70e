"""TicketActivities: thin Temporal adapters over TicketingService, one transaction each."""

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

from activities.watchers import ensure_watcher, notify_ticket_changed
from ticketing import repository as repo
from ticketing.errors import TicketingError
from ticketing.notify import Notifier, send_notifications
from ticketing.schemas import (
    DONE_STATUSES,
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
from ticketing.service import TicketingService

# Activity inputs are declared "the model, else anything": a malformed payload from another
# language then reaches our code and fails as a non-retryable InvalidInput naming the field,
# instead of the SDK's retryable "Failed decoding arguments" retried forever.
LenientCreateTicket = Annotated[CreateTicketRequest | Any, Field(union_mode="left_to_right")]
LenientOpenTicket = Annotated[OpenTicketInput | Any, Field(union_mode="left_to_right")]
LenientUpsertCustomer = Annotated[UpsertCustomerInput | Any, Field(union_mode="left_to_right")]
LenientRegisterTenant = Annotated[RegisterTenantInput | Any, Field(union_mode="left_to_right")]

NON_RETRYABLE_ERRORS = [
    "InvalidInput",
    "InvalidCustomerId",
    "MissingServiceAddress",
    "CustomerNotFound",
    "TenantNotFound",
    "PartnerNotFound",
    "TicketNotFound",
    "TenantMismatch",
    "InvalidTransition",
    "RouteNotAllowed",
    "EscalationLimitReached",
]


def domain_failure(error: TicketingError) -> ApplicationError:
    return ApplicationError(
        error.message, error.details(), type=type(error).__name__, non_retryable=True
    )


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

    def all(self) -> Sequence[Callable[..., Any]]:
        return [
            self.create_ticket,
            self.open_ticket,
            self.upsert_customer,
            self.register_tenant,
            self.sla_snapshot,
            self.record_breach,
            self.escalate_ticket,
            self.change_ticket_status,
            self.send_notifications,
            self.send_ticket_created,
        ]

    @asynccontextmanager
    async def _service(self) -> AsyncIterator[TicketingService]:
        """One transaction: committed on success, rolled back on any error."""
        try:
            async with self.sessions() as session, session.begin():
                yield TicketingService(session)
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
            # Connection loss, deadlock, serialization failure, a lost insert race: retry.
            # No exception chain: its tracebacks push the failure past the server's size limit
            # and the one-line cause is what an operator needs.
            raise ApplicationError(
                str(error.orig).splitlines()[0][:500], type=type(error.orig).__name__
            ) from None

    async def _watch(self, ticket: TicketInfo) -> None:
        if self.client is not None:
            await ensure_watcher(self.client, ticket, self.task_queue)

    @activity.defn(name="create_ticket")
    async def create_ticket(self, request: LenientCreateTicket) -> TicketInfo:
        """Create (or return the already created) ticket and make sure it has a watcher."""
        async with self._service() as service:
            ticket = await service.create_ticket(_parse(CreateTicketRequest, request))
        await self._watch(ticket)
        return ticket

    @activity.defn(name="open_ticket")
    async def open_ticket(self, input: LenientOpenTicket) -> TicketInfo:
        """Upsert the customer and create its ticket in one transaction, then watch it."""
        input = _parse(OpenTicketInput, input)
        async with self._service() as service:
            await service.upsert_customer(
                tenant_id=input.customer.tenant_id,
                customer_id=input.customer.customer_id,
                email=input.customer.email,
                name=input.customer.name,
            )
            ticket = await service.create_ticket(input.request)
        await self._watch(ticket)
        return ticket

    @activity.defn(name="upsert_customer")
    async def upsert_customer(self, input: LenientUpsertCustomer) -> str:
        input = _parse(UpsertCustomerInput, input)
        async with self._service() as service:
            customer = await service.upsert_customer(
                tenant_id=input.tenant_id,
                customer_id=input.customer_id,
                email=input.email,
                name=input.name,
            )
            return customer.id

    @activity.defn(name="register_tenant")
    async def register_tenant(self, input: LenientRegisterTenant) -> str:
        input = _parse(RegisterTenantInput, input)
        async with self._service() as service:
            tenant = await service.register_tenant(
                input.tenant_id,
                name=input.name,
                partner_id=input.partner_id,
                timezone=input.timezone,
                support_email=input.support_email,
            )
            return tenant.id

    @activity.defn(name="sla_snapshot")
    async def sla_snapshot(self, input: SnapshotInput) -> SlaSnapshot:
        async with self._service() as service:
            return await service.sla_snapshot(input.ticket_id, now=input.now)

    @activity.defn(name="record_breach")
    async def record_breach(self, input: RecordBreachInput) -> BreachResult:
        """Record the threshold (idempotent), then send every unsent notification of the ticket.

        Sending here, after the commit, saves the watcher a round trip per breach; a failed
        send fails the attempt and the retry finds the breach recorded and sends again.
        """
        async with self._service() as service:
            outcome = await service.record_breach(input.ticket_id, input.kind, now=input.now)
            pending = await service.start_delivery(outcome.snapshot.ticket_id)
        await send_notifications(self.sessions, self.notifier, pending, attempts_counted=True)
        return BreachResult(
            recorded=outcome.recorded,
            escalated=outcome.escalated,
            notification_ids=pending,
            snapshot=outcome.snapshot,
        )

    @activity.defn(name="escalate_ticket")
    async def escalate_ticket(self, input: EscalateInput) -> TicketInfo:
        async with self._service() as service:
            ticket, _ = await service.escalate(
                input.ticket_id, from_level=input.from_level, now=input.now
            )
            return ticket

    @activity.defn(name="change_ticket_status")
    async def change_ticket_status(self, input: StatusChangeInput) -> TicketInfo:
        """Move a ticket on behalf of a workflow; already in the target status is success."""
        async with self._service() as service:
            ticket = await service.get_ticket(input.ticket_id)
            # Asked to finish a ticket someone already finished: it is done either way.
            settled = ticket.status is input.status or (
                ticket.status in DONE_STATUSES and input.status in DONE_STATUSES
            )
            if not settled:
                if input.note:
                    await service.add_message(
                        input.ticket_id,
                        body=input.note,
                        author_actor="tenant",
                        author=input.actor,
                        is_internal=not input.note_is_public,
                        now=input.now,
                    )
                ticket = await service.change_status(
                    input.ticket_id, input.status, actor=input.actor, now=input.now
                )
        # Also when nothing changed: a retry after an attempt that committed but never reached
        # the watcher must still wake it, or it sleeps on a finished ticket until its timer.
        if self.client is not None:
            await notify_ticket_changed(self.client, ticket, self.task_queue)
        return ticket

    @activity.defn(name="send_notifications")
    async def send_notifications(self, input: SendNotificationsInput) -> int:
        return await send_notifications(self.sessions, self.notifier, input.notification_ids)

    @activity.defn(name="send_ticket_created")
    async def send_ticket_created(self, ticket_id: uuid.UUID) -> int:
        """Send the customer the ticket-created notice carrying its number (once)."""
        async with self.sessions() as session:
            ids = await repo.notification_ids_by_key(session, f"ticket_created:{ticket_id}")
        return await send_notifications(self.sessions, self.notifier, ids)


def _parse(model: Any, data: Any) -> Any:
    try:
        return parse(model, data)
    except TicketingError as error:
        raise domain_failure(error) from error
