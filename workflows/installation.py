"""InstallationWorkflow: an installation ticket followed from request to visit to completion."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.tickets import TicketActivities
    from ticketing.temporal import names
    from ticketing.temporal.schemas import (
        MAX_DESCRIPTION,
        CancelInstallation,
        CompleteInstallation,
        InstallationInput,
        InstallationPhase,
        InstallationResult,
        InstallationState,
        ScheduleVisit,
        StatusChangeInput,
        TicketInfo,
        TicketStatus,
        TicketType,
    )
    from workflows.common import (
        DB_ACTIVITY_TIMEOUT,
        DB_RETRY,
        open_customer_ticket,
        reject_bad_input,
    )

if TYPE_CHECKING:
    InstallationInputArg = InstallationInput
else:
    # The input arrives undecoded and is validated in run(): a payload the SDK's decoder
    # cannot parse then fails the workflow with InvalidInput instead of failing its task.
    from temporalio.common import RawValue as InstallationInputArg


@workflow.defn(name=names.INSTALLATION_WORKFLOW)
class InstallationWorkflow:
    def __init__(self) -> None:
        self._input: InstallationInput | None = None
        self._ticket: TicketInfo | None = None
        self._phase = InstallationPhase.CREATING_TICKET
        self._visit: ScheduleVisit | None = None
        self._finish: CompleteInstallation | CancelInstallation | None = None

    @workflow.query(name=names.INSTALLATION_STATE_QUERY)
    def installation_state(self) -> InstallationState:
        return InstallationState(
            ticket_number=self._ticket.ticket_number if self._ticket else None,
            ticket_id=self._ticket.ticket_id if self._ticket else None,
            phase=self._phase,
            visit=self._visit,
        )

    @workflow.update(name=names.SCHEDULE_VISIT_UPDATE)
    async def schedule_visit(self, visit: ScheduleVisit) -> InstallationState:
        self._visit = visit
        self._phase = InstallationPhase.SCHEDULED
        await workflow.wait_condition(lambda: self._ticket is not None)
        assert self._ticket is not None
        if self._ticket.status is TicketStatus.OPEN:
            # Telling the customer the visit date is the first response to the request.
            self._ticket = await self._set_status(
                TicketStatus.IN_PROGRESS,
                f"Visit scheduled {visit.at.isoformat()} with {visit.technician}",
                public=True,
            )
        return self.installation_state()

    @schedule_visit.validator
    def _validate_visit(self, visit: ScheduleVisit) -> None:
        if self._finish is not None or self._phase in (
            InstallationPhase.COMPLETED,
            InstallationPhase.CANCELLED,
        ):
            raise ValueError(f"phase: installation is already {self._phase.value}")
        if visit.at <= workflow.now():
            raise ValueError(f"at: {visit.at.isoformat()} is in the past")
        window = self._input
        if window and window.window_start and visit.at < window.window_start:
            raise ValueError(
                f"at: {visit.at.isoformat()} is before window_start "
                f"{window.window_start.isoformat()}"
            )
        if window and window.window_end and visit.at > window.window_end:
            raise ValueError(
                f"at: {visit.at.isoformat()} is after window_end {window.window_end.isoformat()}"
            )

    @workflow.signal(name=names.COMPLETE_INSTALLATION_SIGNAL)
    def complete_installation(self, done: CompleteInstallation) -> None:
        self._finish = self._finish or done

    @workflow.signal(name=names.CANCEL_INSTALLATION_SIGNAL)
    def cancel_installation(self, cancel: CancelInstallation) -> None:
        self._finish = self._finish or cancel

    @workflow.run
    async def run(self, input: InstallationInputArg) -> InstallationResult:
        self._input = input = reject_bad_input(InstallationInput, input)
        self._ticket = await self._open_ticket(input)
        if self._phase is InstallationPhase.CREATING_TICKET:
            self._phase = InstallationPhase.AWAITING_SCHEDULE
        # An unscheduled visit is not timed here: the ticket's SLA watcher escalates it like
        # any ticket whose first response and resolution are overdue.
        await workflow.wait_condition(lambda: self._finish is not None)
        await workflow.wait_condition(workflow.all_handlers_finished)
        if isinstance(self._finish, CancelInstallation):
            self._ticket = await self._set_status(
                TicketStatus.CLOSED, f"Cancelled: {self._finish.reason}"
            )
            self._phase = InstallationPhase.CANCELLED
            notes: str | None = self._finish.reason
        else:
            assert isinstance(self._finish, CompleteInstallation)
            self._ticket = await self._set_status(
                TicketStatus.RESOLVED, self._finish.notes or "Installation completed"
            )
            self._phase = InstallationPhase.COMPLETED
            notes = self._finish.notes
        return InstallationResult(
            ticket=self._ticket, phase=self._phase, visit=self._visit, notes=notes
        )

    async def _open_ticket(self, input: InstallationInput) -> TicketInfo:
        description = f"Install service at {input.service_address}."
        if input.window_start or input.window_end:
            description += f"\nWindow: {_iso(input.window_start)} to {_iso(input.window_end)}"
        if input.notes:
            description += f"\n\n{input.notes}"
        return await open_customer_ticket(
            tenant_id=input.tenant_id,
            customer_id=input.customer_id,
            customer_email=input.customer_email,
            customer_name=input.customer_name,
            title=f"Installation: {input.service_address}"[:200],
            description=description[:MAX_DESCRIPTION],
            priority=input.priority,
            assigned_team=input.assigned_team,
            ticket_type=TicketType.INSTALLATION_REQUEST,
            service_address=input.service_address,
            affected_services=input.affected_services,
            device_serial_numbers=input.device_serial_numbers,
            idempotency_key=input.idempotency_key or f"installation:{workflow.info().workflow_id}",
        )

    async def _set_status(
        self, status: TicketStatus, note: str, *, public: bool = False
    ) -> TicketInfo:
        assert self._ticket is not None
        try:
            ticket: TicketInfo = await workflow.execute_activity_method(
                TicketActivities.change_ticket_status,
                StatusChangeInput(
                    ticket_id=self._ticket.ticket_id,
                    status=status,
                    now=workflow.now(),
                    actor="installation",
                    note=note[:10_000],
                    note_is_public=public,
                ),
                start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
                retry_policy=DB_RETRY,
            )
        except ActivityError as error:
            # An agent may have moved the ticket meanwhile (e.g. closed it): keep following the
            # installation and report the ticket as it is.
            if (
                not isinstance(error.cause, ApplicationError)
                or error.cause.type != "InvalidTransition"
            ):
                raise
            return self._ticket
        return ticket


def _iso(value: Any) -> str:
    return value.isoformat() if value else "open"
