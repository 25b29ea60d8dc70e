"""Verbs that start or drive business workflows: onboard, install, installation …."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import typer
from pydantic import BaseModel
from rich.text import Text
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from ticketing.core.errors import InvalidInput, TicketingError
from ticketing.runtime.settings import Settings
from ticketing.temporal import names
from ticketing.temporal.schemas import (
    CancelInstallation,
    CompleteInstallation,
    InstallationInput,
    InstallationState,
    OnboardingInput,
    ScheduleVisit,
    TicketInfo,
    parse,
)
from ticketing_ops.cli.context import (
    OPERATOR,
    QUERY_TIMEOUT,
    bounded,
    database,
    format_dt,
    temporal,
)
from ticketing_ops.cli.errors import CliError, to_cli_error
from ticketing_ops.cli.output import JSON_OPTION, fail, out, run, user_text

installation_app = typer.Typer(help="Drive a running InstallationWorkflow.", no_args_is_help=True)
SERVICE_OPTION = typer.Option(None, "--service", help="Affected service (repeatable).")
SERIAL_OPTION = typer.Option(None, "--serial", help="Device serial (repeatable).")


async def _check_tenant(tenant_id: str) -> None:
    from ticketing.core.errors import TenantNotFound
    from ticketing.tenants import repository as repo

    async with database(Settings()) as sessions, sessions() as s:
        if await repo.get_tenant(s, tenant_id) is None:
            raise TenantNotFound(tenant_id)


def onboard(
    tenant: str = typer.Option(..., "--tenant", help="Tenant id."),
    customer_id: str = typer.Option(..., "--customer-id", help="Integer or UUID."),
    email: str = typer.Option(..., "--email", help="Customer email."),
    name: str = typer.Option(None, "--name", help="Customer name."),
    priority: str = typer.Option("high", help="low|normal|high|urgent."),
    team: str = typer.Option("onboarding_team", help="Assigned team."),
    notes: str = typer.Option(None, help="Added to the ticket description."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait for the ticket."),
    timeout: float = typer.Option(60.0, help="Seconds to wait for the ticket."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Start OnboardingWorkflow (id onboarding-<tenant>-<customer>; a rerun attaches to it)."""
    settings = Settings()

    async def action() -> dict[str, Any]:
        data = parse(
            OnboardingInput,
            {
                "tenant_id": tenant,
                "customer_id": customer_id,
                "customer_email": email,
                "customer_name": name,
                "priority": priority,
                "assigned_team": team,
                "notes": notes,
            },
        )
        await _check_tenant(data.tenant_id)
        client = await temporal(settings)
        workflow_id = names.onboarding_workflow_id(data.tenant_id, data.customer_id)
        handle = await client.start_workflow(
            names.ONBOARDING_WORKFLOW,
            data,
            id=workflow_id,
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            result_type=TicketInfo,
        )
        result: dict[str, Any] = {
            "workflow_id": workflow_id,
            "run_id": handle.result_run_id,
            "ticket_number": None,
            "ticket": None,
        }
        if wait:
            ticket = await bounded(
                handle.result(), timeout, f"no ticket after {timeout:.0f}s: is a worker running?"
            )
            result.update(ticket_number=ticket.ticket_number, ticket=ticket.model_dump(mode="json"))
        return result

    def render(r: dict[str, Any]) -> None:
        if r["ticket_number"]:
            line = Text.assemble(
                user_text(r["ticket_number"], style="bold"),
                " onboarding ticket (workflow ",
                user_text(r["workflow_id"]),
                ")",
            )
        else:
            line = Text.assemble("started workflow ", user_text(r["workflow_id"]))
        out().print(line)

    run(json_out, action, render)


async def wait_installation_ticket(
    handle: WorkflowHandle[Any, Any], timeout: float
) -> InstallationState:
    """Poll installation_state until the ticket exists (or the workflow ended or failed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        description = await handle.describe()
        if description.status != WorkflowExecutionStatus.RUNNING:
            await handle.result()  # raises the failure, if any
        try:
            state: InstallationState = await handle.query(
                names.INSTALLATION_STATE_QUERY,
                result_type=InstallationState,
                rpc_timeout=QUERY_TIMEOUT,
            )
            if state.ticket_number:
                return state
        except RPCError:
            pass  # no worker answered yet
        if loop.time() >= deadline:
            raise CliError(
                f"no ticket after {timeout:.0f}s: is a worker running? (workflow {handle.id})",
                type="Timeout",
            )
        await asyncio.sleep(0.2)


def install(
    tenant: str = typer.Option(..., "--tenant", help="Tenant id."),
    customer_id: str = typer.Option(..., "--customer-id", help="Integer or UUID."),
    address: str = typer.Option(..., "--address", help="Service address."),
    priority: str = typer.Option("normal", help="low|normal|high|urgent."),
    team: str = typer.Option("field_ops", help="Assigned team."),
    window_start: str = typer.Option(None, help="ISO 8601 with offset."),
    window_end: str = typer.Option(None, help="ISO 8601 with offset."),
    service: list[str] = SERVICE_OPTION,
    serial: list[str] = SERIAL_OPTION,
    notes: str = typer.Option(None, help="Added to the ticket description."),
    email: str = typer.Option(None, help="Customer email."),
    name: str = typer.Option(None, help="Customer name."),
    timeout: float = typer.Option(60.0, help="Seconds to wait for the ticket."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Start InstallationWorkflow and print its ticket number as soon as the ticket exists."""
    settings = Settings()

    async def action() -> dict[str, Any]:
        data = parse(
            InstallationInput,
            {
                "tenant_id": tenant,
                "customer_id": customer_id,
                "service_address": address,
                "priority": priority,
                "assigned_team": team,
                "window_start": window_start,
                "window_end": window_end,
                "affected_services": service or [],
                "device_serial_numbers": serial or [],
                "notes": notes,
                "customer_email": email,
                "customer_name": name,
            },
        )
        await _check_tenant(data.tenant_id)
        client = await temporal(settings)
        workflow_id = f"installation-{data.tenant_id}-{data.customer_id}-{uuid.uuid4().hex[:8]}"
        handle = await client.start_workflow(
            names.INSTALLATION_WORKFLOW,
            data,
            id=workflow_id,
            task_queue=settings.task_queue,
        )
        state = await wait_installation_ticket(handle, timeout)
        return {
            "workflow_id": workflow_id,
            "ticket_number": state.ticket_number,
            "phase": state.phase.value,
        }

    run(
        json_out,
        action,
        lambda r: out().print(
            Text.assemble(
                user_text(r["ticket_number"], style="bold"),
                " installation ticket, ",
                user_text(r["phase"]),
                " (workflow ",
                user_text(r["workflow_id"]),
                ")",
            )
        ),
    )


async def _installation_handle(
    number: str, settings: Settings
) -> tuple[Client, WorkflowHandle[Any, Any], TicketInfo]:
    from ticketing.tickets.service import TicketService

    async with database(settings) as sessions, sessions() as s:
        ticket = await TicketService(s, OPERATOR).get_ticket(number)
    workflow_id = ticket.metadata.get("workflow_id")
    if not workflow_id or ticket.metadata.get("workflow_type", names.INSTALLATION_WORKFLOW) != (
        names.INSTALLATION_WORKFLOW
    ):
        raise InvalidInput("ticket", number, "was not opened by an InstallationWorkflow")
    client = await temporal(settings)
    return client, client.get_workflow_handle(workflow_id), ticket


@installation_app.command("schedule")
def installation_schedule(
    ticket: str = typer.Argument(..., help="TKT-…"),
    at: str = typer.Option(..., "--at", help="Visit time, ISO 8601 with offset."),
    technician: str = typer.Option(..., "--technician", help="Technician name."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Schedule the visit (a Temporal update: rejected if in the past or outside the window)."""
    settings = Settings()

    async def action() -> InstallationState:
        visit = parse(ScheduleVisit, {"at": at, "technician": technician})
        _, handle, _ = await _installation_handle(ticket, settings)
        return await handle.execute_update(
            names.SCHEDULE_VISIT_UPDATE, visit, result_type=InstallationState
        )

    def render(state: InstallationState) -> None:
        visit = state.visit
        line = Text.assemble(
            user_text(state.ticket_number, style="bold"), " ", user_text(state.phase.value)
        )
        if visit:
            line.append_text(
                Text.assemble(
                    ": ", user_text(format_dt(visit.at)), " with ", user_text(visit.technician)
                )
            )
        out().print(line)

    run(json_out, action, render, lambda s: s.model_dump(mode="json"))


def _finish_installation(
    ticket: str, signal: str, payload: BaseModel, wait: bool, timeout: float, json_out: bool
) -> None:
    settings = Settings()

    async def action() -> dict[str, Any]:
        client, handle, info = await _installation_handle(ticket, settings)
        await handle.signal(signal, payload)
        result: dict[str, Any] = {
            "ticket_number": info.ticket_number,
            "workflow_id": handle.id,
            "signal": signal,
            "phase": None,
            "status": None,
        }
        if wait:
            from ticketing.temporal.schemas import InstallationResult

            typed = client.get_workflow_handle(handle.id, result_type=InstallationResult)
            done = await bounded(
                typed.result(),
                timeout,
                f"workflow {handle.id} did not finish within {timeout:.0f}s: is a worker running?",
            )
            result.update(phase=done.phase.value, status=done.ticket.status.value)
        return result

    def render(r: dict[str, Any]) -> None:
        outcome = f"{r['phase']} (ticket {r['status']})" if r["phase"] else f"sent {r['signal']}"
        out().print(
            Text.assemble(user_text(r["ticket_number"], style="bold"), " ", user_text(outcome))
        )

    run(json_out, action, render)


@installation_app.command("complete")
def installation_complete(
    ticket: str = typer.Argument(..., help="TKT-…"),
    notes: str = typer.Option(None, help="Completion notes."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait for the workflow to end."),
    timeout: float = typer.Option(30.0, help="Seconds to wait."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Mark the installation done: the ticket is resolved."""
    try:
        payload = parse(CompleteInstallation, {"notes": notes})
    except TicketingError as exc:
        fail(to_cli_error(exc), json_out)
    _finish_installation(
        ticket, names.COMPLETE_INSTALLATION_SIGNAL, payload, wait, timeout, json_out
    )


@installation_app.command("cancel")
def installation_cancel(
    ticket: str = typer.Argument(..., help="TKT-…"),
    reason: str = typer.Option(..., help="Why it is cancelled."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait for the workflow to end."),
    timeout: float = typer.Option(30.0, help="Seconds to wait."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Cancel the installation: the ticket is closed."""
    try:
        payload = parse(CancelInstallation, {"reason": reason})
    except TicketingError as exc:
        fail(to_cli_error(exc), json_out)
    _finish_installation(ticket, names.CANCEL_INSTALLATION_SIGNAL, payload, wait, timeout, json_out)
