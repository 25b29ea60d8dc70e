"""TicketActivities: thin Temporal adapters over the flows, one transaction each."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client

from activities.boundary import activity_boundary
from activities.raw_input import decode
from ticketing.auth.principal import Principal, Role
from ticketing.core import outbox_keys
from ticketing.core.errors import (
    InvalidInput,
    non_retryable_error_types,
)
from ticketing.db.rls import bind_system
from ticketing.notifications import repository as outbox
from ticketing.notifications.dispatch import DispatcherInput
from ticketing.notifications.mailer import Notifier
from ticketing.notifications.service import QueueOnly
from ticketing.sla.bounds import DEFAULT_MAX_SKEW, CallerBounds, check_clock
from ticketing.sla.flows import SlaFlows
from ticketing.sla.schemas import AutoCloseInput
from ticketing.temporal.caller import CallerCheck
from ticketing.temporal.dispatcher import DispatcherDoorbell
from ticketing.temporal.names import INSTALLATION_WORKFLOW, INTAKE_WORKFLOWS, RECONCILER_WORKFLOW
from ticketing.temporal.schemas import (
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
from ticketing.temporal.watchers import TemporalWatchers
from ticketing.tenants.flows import TenantFlows
from ticketing.tickets.flows import TicketFlows
from ticketing.tickets.ports import Notices, NoWatchers, Watchers

# Activity inputs are declared "the model, else anything": a malformed payload from another
# language then reaches our code and fails as a non-retryable InvalidInput naming the field,
# instead of the SDK's retryable "Failed decoding arguments" retried forever.
LenientCreateTicket = Annotated[CreateTicketRequest | Any, Field(union_mode="left_to_right")]
if TYPE_CHECKING:
    CreateTicketArg = CreateTicketRequest
else:
    # The public activity takes its payload undecoded: JSON too deep for the SDK's parser
    # from another language must still end as InvalidInput on the first attempt.
    from temporalio.common import RawValue as CreateTicketArg
LenientOpenTicket = Annotated[OpenTicketInput | Any, Field(union_mode="left_to_right")]
LenientUpsertCustomer = Annotated[UpsertCustomerInput | Any, Field(union_mode="left_to_right")]
LenientRegisterTenant = Annotated[RegisterTenantInput | Any, Field(union_mode="left_to_right")]

# Derived from the error classes, so a new domain error is never retried by accident. A class
# is a subclass only once its module is imported: the modules defining errors that nothing
# above imports are imported first (tests/activities/test_error_types.py keeps the list whole).
for _module in (
    "ticketing.auth.apikeys",
    "ticketing.auth.chat_identity",
    "ticketing.mail.errors",
    "ticketing.tickets.attachments.service",
):
    importlib.import_module(_module)
NON_RETRYABLE_ERRORS = non_retryable_error_types()


class TicketActivities:
    """`create_ticket` is the public contract; every other activity here is internal and
    first checks, through `CallerCheck`, that this plugin's own workflow called it."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        client: Client | None,
        notifier: Notifier,
        task_queue: str,
        dispatcher: DispatcherInput | None = None,
        max_clock_skew: timedelta = DEFAULT_MAX_SKEW,
    ) -> None:
        self.sessions = sessions
        self.client = client
        self.notifier = notifier
        self.task_queue = task_queue
        # Without a client (tests of activities alone) rows wait for a dispatcher.
        self.notices: Notices = (
            DispatcherDoorbell(client, task_queue, dispatcher or DispatcherInput())
            if client is not None
            else QueueOnly()
        )
        self.max_clock_skew = max_clock_skew
        self.callers = CallerCheck(client, task_queue)
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
        return TicketFlows(self.sessions, principal, watchers=self.watchers, notices=self.notices)

    async def _sla(self, ticket_id: uuid.UUID, action: str) -> SlaFlows:
        """The calling watcher's flows: scoped to the ticket it names and bound to the number
        in its workflow id, its `now` held near the database clock."""
        number = await self.callers.require_watcher(action)
        bounds = CallerBounds(max_skew=self.max_clock_skew, ticket_number=number)
        return SlaFlows(
            self.sessions,
            Principal.watcher(ticket_id),
            notices=self.notices,
            watchers=self.watchers,
            bounds=bounds,
        )

    @activity.defn(name="create_ticket")
    async def create_ticket(self, request: CreateTicketArg) -> TicketInfo:
        """Public: create (or return the already created) ticket of `tenant_id`, watched and
        announced."""
        async with activity_boundary():
            request = decode(CreateTicketRequest, request, "request")
            if request.tenant_id is None:
                raise InvalidInput("tenant_id", None, "is required")
            flows = self._tickets(Principal.integration(request.tenant_id, name="workflow"))
            return await flows.create(request)

    @activity.defn(name="open_ticket")
    async def open_ticket(self, input: LenientOpenTicket) -> TicketInfo:
        """Upsert the customer and create its ticket in one transaction, then watch it."""
        async with activity_boundary():
            await self.callers.require(INTAKE_WORKFLOWS, "open tickets through open_ticket")
            input = parse(OpenTicketInput, input)
            principal = Principal.integration(input.customer.tenant_id, name="workflow")
            return await self._tickets(principal).open_for_customer(input.customer, input.request)

    @activity.defn(name="upsert_customer")
    async def upsert_customer(self, input: LenientUpsertCustomer) -> str:
        async with activity_boundary():
            await self.callers.require(INTAKE_WORKFLOWS, "upsert customers")
            input = parse(UpsertCustomerInput, input)
            customer = await TenantFlows(
                self.sessions,
                Principal.integration(input.tenant_id),
                watchers=self.watchers,
                notices=self.notices,
            ).upsert_customer(input)
            return customer.id

    @activity.defn(name="register_tenant")
    async def register_tenant(self, input: LenientRegisterTenant) -> str:
        async with activity_boundary():
            await self.callers.require(INTAKE_WORKFLOWS, "register tenants")
            input = parse(RegisterTenantInput, input)
            await TenantFlows(
                self.sessions, Principal.platform(), watchers=self.watchers, notices=self.notices
            ).register_tenant(input)
            return input.tenant_id

    @activity.defn(name="sla_snapshot")
    async def sla_snapshot(self, input: SnapshotInput) -> SlaSnapshot:
        async with activity_boundary():
            flows = await self._sla(input.ticket_id, "read SLA snapshots")
            return await flows.snapshot(input.ticket_id, input.now)

    @activity.defn(name="record_breach")
    async def record_breach(self, input: RecordBreachInput) -> BreachResult:
        """Record the threshold (idempotent), then send every unsent notice of the ticket."""
        async with activity_boundary():
            flows = await self._sla(input.ticket_id, "record SLA thresholds")
            return await flows.record_threshold(input.ticket_id, input.kind, input.now)

    @activity.defn(name="auto_close_resolved")
    async def auto_close_resolved(self, input: AutoCloseInput) -> int:
        """Internal (the reconciler's): close resolved tickets past their quiet period."""
        async with activity_boundary():
            await self.callers.require(frozenset({RECONCILER_WORKFLOW}), "auto-close tickets")
            flows = SlaFlows(
                self.sessions,
                Principal.reconciler(),
                notices=self.notices,
                watchers=self.watchers,
            )
            return await flows.auto_close(input.now, limit=input.limit)

    @activity.defn(name="escalate_ticket")
    async def escalate_ticket(self, input: EscalateInput) -> TicketInfo:
        async with activity_boundary():
            flows = await self._sla(input.ticket_id, "escalate tickets")
            return await flows.escalate(input.ticket_id, input.from_level, input.now)

    @activity.defn(name="change_ticket_status")
    async def change_ticket_status(self, input: StatusChangeInput) -> TicketInfo:
        """Move a ticket on behalf of a workflow; already in the target status is success."""
        async with activity_boundary():
            # Our InstallationWorkflow passes only the ticket its open_ticket returned (or the
            # one shared by its tenant's idempotency key), so the caller check binds the ticket.
            await self.callers.require(frozenset({INSTALLATION_WORKFLOW}), "change ticket status")
            async with self.sessions() as session:
                await check_clock(session, input.now, self.max_clock_skew)
            principal = Principal(Role.SYSTEM, ticket_id=input.ticket_id, name=input.actor)
            return await self._tickets(principal).settle_status(input)

    @activity.defn(name="send_notifications")
    async def send_notifications(self, input: SendNotificationsInput) -> int:
        """Watchers begun before the dispatcher still call this: it only wakes the dispatcher,
        so their mail cannot hold them up either."""
        async with activity_boundary():
            await self.callers.require_watcher("send notifications")
        if input.notification_ids:
            await self.notices.hand_over(uuid.UUID(int=0))
        return 0

    @activity.defn(name="send_ticket_created")
    async def send_ticket_created(self, ticket_id: uuid.UUID) -> int:
        """Hand the ticket-created notice to the dispatcher; the workflow never waits on mail."""
        async with activity_boundary():
            await self.callers.require(INTAKE_WORKFLOWS, "send ticket-created notices")
            # Inside the boundary: a database restarting under this read is a retryable
            # outage, never a bare FileNotFoundError (its socket file gone).
            async with self.sessions() as session:
                bind_system(session)
                ids = await outbox.notification_ids_by_key(
                    session, outbox_keys.ticket_created(ticket_id)
                )
            if ids:
                await self.notices.hand_over(ticket_id)
            return len(ids)
