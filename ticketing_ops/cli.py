"""`ticketing`: the operator CLI. Every verb takes --json and prints exactly one JSON object.

Errors are one line on stderr (`error: <message>`, or `{"error": {...}}` with --json) and exit
code 2; no tracebacks for bad input, unknown tickets, rejected updates or unreachable servers.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError, TemporalError
from temporalio.service import RPCError
from typer.core import TyperGroup

from ticketing.auth.principal import Principal
from ticketing.core.errors import InvalidInput, TicketingError
from ticketing.core.fields import check_storable
from ticketing.schemas import (
    CancelInstallation,
    CompleteInstallation,
    Contract,
    Email,
    Identifier,
    InstallationInput,
    InstallationState,
    OnboardingInput,
    Priority,
    RegisterTenantInput,
    ScheduleVisit,
    ShortText,
    SlaSnapshot,
    TicketInfo,
    TicketStatus,
    TicketType,
    invalid_input_from,
    parse,
)
from ticketing.settings import Settings

# temporalio's env config asks platformdirs for a runtime dir, which warns when XDG_RUNTIME_DIR
# is unset (containers, CI); one warning per verb drowns the one-line output.
warnings.filterwarnings("ignore", module="platformdirs")


class OneLineErrors(TyperGroup):
    """Usage errors (bad option values, missing or unknown options) follow the same one-line
    contract as every other error instead of click's multi-line panel."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        given = args[0] if args else kwargs.get("args")
        argv = list(given) if given is not None else sys.argv[1:]
        try:
            code = super().main(*args, **kwargs)
        except typer.TyperException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: show its help
                exc.show()  # type: ignore[attr-defined]
                sys.exit(ERROR_EXIT)
            param = getattr(exc, "param", None)
            field = param.name if param is not None and param.name else None
            message = str(getattr(exc, "format_message", exc.__str__)()).strip()
            message = " ".join(message.split())
            fail(
                CliError(
                    f"{field}: {message}" if field else message, type="UsageError", field=field
                ),
                "--json" in argv,
                exit_now=True,
            )
        except typer.Abort:
            typer.echo("aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=OneLineErrors,
    name="ticketing",
    help="Temporal-native ticketing: dev stack, worker, tenants, workflows and tickets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
tenant_app = typer.Typer(help="Tenants (ISPs, service platforms).", no_args_is_help=True)
partner_app = typer.Typer(
    help="Partners (the escalation level above a tenant).", no_args_is_help=True
)
installation_app = typer.Typer(help="Drive a running InstallationWorkflow.", no_args_is_help=True)
ticket_app = typer.Typer(
    help="One ticket: show it, reply, change its status.", no_args_is_help=True
)
tickets_app = typer.Typer(help="Many tickets.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(partner_app, name="partner")
app.add_typer(installation_app, name="installation")
app.add_typer(ticket_app, name="ticket")
app.add_typer(tickets_app, name="tickets")

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON object on stdout, nothing else.")
SERVICE_OPTION = typer.Option(None, "--service", help="Affected service (repeatable).")
SERIAL_OPTION = typer.Option(None, "--serial", help="Device serial (repeatable).")
T = TypeVar("T")
ERROR_EXIT = 2
# A query needs a worker to answer; without one the server holds it until this runs out.
QUERY_TIMEOUT = timedelta(seconds=3)
CONNECT_TIMEOUT = 10.0


def out() -> Console:
    # Created per call so CliRunner's redirected stdout is honoured.
    return Console(file=sys.stdout, highlight=False)


class CliError(Exception):
    """An error to report as one line, with a type and (when known) the field at fault."""

    def __init__(self, message: str, *, type: str = "Error", field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.type = type
        self.field = field


# -- plumbing ------------------------------------------------------------------------------


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def _field_of(message: str) -> str | None:
    head, sep, _ = message.partition(": ")
    return head if sep and head.replace(".", "").replace("_", "").isalnum() else None


def _application_error(exc: BaseException) -> ApplicationError | None:
    current: BaseException | None = exc
    seen = 0
    while current is not None and seen < 20:
        if isinstance(current, ApplicationError):
            return current
        current = current.__cause__ or getattr(current, "cause", None)
        seen += 1
    return None


def to_cli_error(exc: BaseException) -> CliError:
    """Map anything a verb can raise to a one-line error."""
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, TicketingError):
        return CliError(exc.message, type=type(exc).__name__, field=exc.field)
    if isinstance(exc, ValidationError):
        return to_cli_error(invalid_input_from(exc))
    if isinstance(exc, WorkflowFailureError | WorkflowUpdateFailedError):
        app_error = _application_error(exc)
        if app_error is not None:
            field = None
            if app_error.details and isinstance(app_error.details[0], dict):
                field = app_error.details[0].get("field")
            message = _first_line(app_error.message)
            return CliError(
                message,
                type=app_error.type or "ApplicationError",
                field=field or _field_of(message),
            )
        cause = exc.__cause__ or getattr(exc, "cause", None)
        message = _first_line(str(cause or exc))
        return CliError(message, type=type(cause or exc).__name__, field=_field_of(message))
    if isinstance(exc, RPCError):
        return CliError(f"temporal: {_first_line(exc.message)}", type="RPCError")
    if isinstance(exc, TemporalError):
        return CliError(_first_line(str(exc)), type=type(exc).__name__)
    if isinstance(exc, SQLAlchemyError):
        orig = getattr(exc, "orig", None) or exc
        message = _first_line(str(orig))
        if "does not exist" in message:
            message += " (run `ticketing migrate`)"
        return CliError(f"database: {message}", type=type(orig).__name__)
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return CliError(_first_line(str(exc)) or "timed out", type="Timeout")
    if isinstance(exc, OSError | RuntimeError):
        return CliError(_first_line(str(exc)) or type(exc).__name__, type=type(exc).__name__)
    if os.environ.get("TICKETING_DEBUG"):
        raise exc
    # An unexpected error is still one line; TICKETING_DEBUG=1 shows the traceback.
    return CliError(f"{type(exc).__name__}: {_first_line(str(exc))}", type=type(exc).__name__)


def fail(error: CliError, json_out: bool, *, exit_now: bool = False) -> NoReturn:
    if json_out:
        typer.echo(
            json.dumps(
                {"error": {"type": error.type, "field": error.field, "message": error.message}}
            )
        )
    else:
        typer.echo(f"error: {error.message}", err=True)
    if exit_now:  # outside a command, where typer.Exit is no longer turned into an exit code
        sys.exit(ERROR_EXIT)
    raise typer.Exit(ERROR_EXIT)


def warn(message: str, json_out: bool) -> None:
    if not json_out:
        typer.echo(f"warning: {message}", err=True)


def run(
    json_out: bool,
    action: Callable[[], Coroutine[Any, Any, T]],
    render: Callable[[T], None],
    to_json: Callable[[T], Any] | None = None,
) -> None:
    """Run `action` on a fresh event loop; print its result as JSON or through `render`."""
    _quiet_logging()
    try:
        result = asyncio.run(action())
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except Exception as exc:  # noqa: BLE001 - every error becomes one line
        fail(to_cli_error(exc), json_out)
    if json_out:
        payload = to_json(result) if to_json else result
        typer.echo(json.dumps(payload, default=_json_default))
    else:
        render(result)


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _quiet_logging() -> None:
    """Domain logs go to stderr at WARNING so stdout stays for results (and JSON)."""
    from ticketing.logging import configure_logging

    settings = Settings()
    configure_logging(settings.log_format, os.environ.get("TICKETING_CLI_LOG_LEVEL", "WARNING"))


def _loud_logging(settings: Settings) -> None:
    from ticketing.logging import configure_logging
    from worker import add_temporal_context

    configure_logging(settings.log_format, settings.log_level, extra=[add_temporal_context])


def safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as given
        return url


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    from ticketing.db import make_engine, make_sessionmaker, migrate_async, resolve_database_url

    url = await asyncio.to_thread(resolve_database_url, settings)
    if not settings.database_url:
        # The embedded default is ours to keep current; a configured database is migrated
        # deliberately with `ticketing migrate`.
        await migrate_async(url)
    engine = make_engine(url, settings)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


async def temporal(settings: Settings) -> Client:
    from worker import connect_client, temporal_connect_config

    target = temporal_connect_config().get("target_host")
    try:
        return await asyncio.wait_for(connect_client(settings), CONNECT_TIMEOUT)
    except (RuntimeError, TimeoutError) as exc:
        raise CliError(
            f"temporal: cannot connect to {target} ({_first_line(str(exc)) or 'timed out'}); "
            "start `ticketing dev` or set TEMPORAL_ADDRESS",
            type="ConnectionError",
        ) from None


# The operator at the machine acts for the platform; `--tenant` narrows a verb to one tenant.
OPERATOR = Principal.platform(name="cli")


def operator(tenant: str | None) -> Principal:
    if tenant is None:
        return OPERATOR
    check_storable(tenant_id=tenant)
    if not tenant:
        raise InvalidInput("tenant_id", tenant, "must not be empty")
    return Principal.tenant_admin(tenant, name="cli")


def _enum(kind: type[T], field: str, value: str | None) -> T | None:
    if value is None:
        return None
    try:
        return kind(value.strip().lower())  # type: ignore[call-arg]
    except ValueError:
        allowed = ", ".join(m.value for m in kind)  # type: ignore[attr-defined]
        raise InvalidInput(field, value, f"must be one of {allowed}") from None


def _dt(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


# -- stack, worker, migrations ---------------------------------------------------------------


@app.command()
def dev(
    port: int = typer.Option(7233, help="Temporal frontend gRPC port."),
    ui_port: int = typer.Option(8233, help="Temporal Web UI port."),
    headless: bool = typer.Option(False, "--headless", help="No Web UI."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Embedded PostgreSQL + Temporal dev server + worker, until Ctrl-C."""
    from ticketing_ops.devstack import dev_stack
    from worker import run_worker

    settings = Settings()
    _loud_logging(settings)

    async def main() -> None:
        async with dev_stack(
            settings, temporal_port=port, ui_port=ui_port, headless=headless
        ) as stack:
            info = {
                "temporal_address": stack.server.target_host
                if stack.server
                else os.environ.get("TEMPORAL_ADDRESS"),
                "ui_url": stack.ui_url,
                "database_url": safe_url(stack.database_url),
                "task_queue": settings.task_queue,
                "home": str(settings.home.resolve()),
            }
            if json_out:
                typer.echo(json.dumps(info))
            else:
                console = out()
                console.print("[bold green]ticketing dev stack is up[/] (Ctrl-C to stop)")
                console.print(f"  Temporal:   {info['temporal_address']}")
                console.print(f"  Web UI:     {info['ui_url'] or '(headless)'}")
                console.print(f"  PostgreSQL: {info['database_url']}")
                console.print(f"  Task queue: {settings.task_queue}")
                if port != 7233 and stack.server:
                    console.print(
                        f"  In another shell: export TEMPORAL_ADDRESS={info['temporal_address']}"
                    )
            await run_worker(
                settings, client=stack.client, database_url=stack.database_url, migrate=False
            )

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # noqa: BLE001
        fail(to_cli_error(exc), json_out)


@app.command()
def demo(
    headless: bool = typer.Option(True, "--headless/--ui", help="Start the Web UI too."),
    port: int = typer.Option(0, help="Temporal port (0 = a free one)."),
    ui_port: int = typer.Option(0, help="Web UI port (0 = a free one)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """The whole story on the embedded stack: onboarding, installation, breach, escalation."""
    from ticketing_ops.demo import run_demo

    settings = Settings()
    try:
        result = asyncio.run(
            run_demo(
                settings,
                port=port or None,
                ui_port=ui_port or None,
                headless=headless,
                quiet=json_out,
            )
        )
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except Exception as exc:  # noqa: BLE001
        fail(to_cli_error(exc), json_out)
    if json_out:
        typer.echo(json.dumps(result, default=_json_default))


@app.command()
def worker(json_out: bool = JSON_OPTION) -> None:
    """Run the worker (TICKETING_DATABASE_URL, TEMPORAL_ADDRESS) until SIGINT/SIGTERM."""
    from worker import run_worker

    settings = Settings()
    _loud_logging(settings)
    if json_out:
        typer.echo(json.dumps({"task_queue": settings.task_queue, "status": "starting"}))
    try:
        asyncio.run(run_worker(settings))
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # noqa: BLE001
        fail(to_cli_error(exc), json_out)


@app.command()
def migrate(json_out: bool = JSON_OPTION) -> None:
    """Bring the database schema up to date."""
    from ticketing.db import migrate_async, resolve_database_url

    async def action() -> dict[str, Any]:
        url = await asyncio.to_thread(resolve_database_url, Settings())
        await migrate_async(url)
        return {"database_url": safe_url(url), "revision": "head"}

    run(json_out, action, lambda r: out().print(f"migrated {r['database_url']} to head"))


# -- tenants and partners --------------------------------------------------------------------


class PartnerInput(Contract):
    partner_id: Identifier
    name: ShortText
    email: Email | None = None


@partner_app.command("add")
def partner_add(
    partner_id: str = typer.Argument(..., help="Partner id (letters, digits, _ . : -)."),
    name: str = typer.Option(None, help="Display name (defaults to the id)."),
    email: str = typer.Option(None, help="Escalation email."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Create or update a partner."""
    from ticketing.tenants.service import TenantService

    async def action() -> dict[str, Any]:
        data = parse(
            PartnerInput, {"partner_id": partner_id, "name": name or partner_id, "email": email}
        )
        async with database(Settings()) as sessions, sessions() as s, s.begin():
            await TenantService(s, OPERATOR).register_partner(
                data.partner_id, name=data.name, email=data.email
            )
        return data.model_dump(mode="json")

    run(json_out, action, lambda r: out().print(f"partner [bold]{r['partner_id']}[/] saved"))


@tenant_app.command("add")
def tenant_add(
    tenant_id: str = typer.Argument(..., help="Tenant id (letters, digits, _ . : -)."),
    name: str = typer.Option(None, help="Display name (defaults to the id)."),
    partner: str = typer.Option(None, "--partner", help="Partner id (escalation level 2)."),
    timezone: str = typer.Option(None, help="IANA time zone of the business calendar."),
    support_email: str = typer.Option(None, help="Where tenant-level notifications go."),
    demo_sla: bool = typer.Option(
        False, "--demo-sla", help="SLA targets in seconds (urgent 10s/30s) for demos."
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Create or update a tenant (idempotent)."""
    from ticketing.sla import demo_policy
    from ticketing.tenants.service import TenantService

    async def action() -> dict[str, Any]:
        data = parse(
            RegisterTenantInput,
            {
                "tenant_id": tenant_id,
                "name": name,
                "partner_id": partner,
                "timezone": timezone,
                "support_email": support_email,
            },
        )
        async with database(Settings()) as sessions, sessions() as s, s.begin():
            tenant = await TenantService(s, OPERATOR).register_tenant(
                data.tenant_id,
                name=data.name,
                partner_id=data.partner_id,
                timezone=data.timezone,
                support_email=data.support_email,
                sla_policy=demo_policy() if demo_sla else None,
            )
            return {
                "tenant_id": tenant.id,
                "name": tenant.name,
                "partner_id": tenant.partner_id,
                "support_email": tenant.support_email,
                "demo_sla": demo_sla,
            }

    run(
        json_out,
        action,
        lambda r: out().print(
            f"tenant [bold]{r['tenant_id']}[/] saved"
            + (f" (partner {r['partner_id']})" if r["partner_id"] else "")
            + (" with the demo SLA" if r["demo_sla"] else "")
        ),
    )


# -- workflows -------------------------------------------------------------------------------


async def _check_tenant(tenant_id: str) -> None:
    from ticketing.core.errors import TenantNotFound
    from ticketing.tenants import repository as repo

    async with database(Settings()) as sessions, sessions() as s:
        if await repo.get_tenant(s, tenant_id) is None:
            raise TenantNotFound(tenant_id)


@app.command()
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
        workflow_id = f"onboarding-{data.tenant_id}-{data.customer_id}"
        handle = await client.start_workflow(
            "OnboardingWorkflow",
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
            ticket = await _bounded(
                handle.result(), timeout, f"no ticket after {timeout:.0f}s: is a worker running?"
            )
            result.update(ticket_number=ticket.ticket_number, ticket=ticket.model_dump(mode="json"))
        return result

    def render(r: dict[str, Any]) -> None:
        if r["ticket_number"]:
            out().print(
                f"[bold]{r['ticket_number']}[/] onboarding ticket (workflow {r['workflow_id']})"
            )
        else:
            out().print(f"started workflow {r['workflow_id']}")

    run(json_out, action, render)


async def _bounded(awaitable: Awaitable[T], timeout: float, message: str) -> T:
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except TimeoutError:
        raise CliError(message, type="Timeout") from None


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
                "installation_state", result_type=InstallationState, rpc_timeout=QUERY_TIMEOUT
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


@app.command()
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
            "InstallationWorkflow",
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
            f"[bold]{r['ticket_number']}[/] installation ticket, {r['phase']} "
            f"(workflow {r['workflow_id']})"
        ),
    )


async def _installation_handle(
    number: str, settings: Settings
) -> tuple[Client, WorkflowHandle[Any, Any], TicketInfo]:
    from ticketing.tickets.service import TicketService

    async with database(settings) as sessions, sessions() as s:
        ticket = await TicketService(s, OPERATOR).get_ticket(number)
    workflow_id = ticket.metadata.get("workflow_id")
    if not workflow_id or ticket.metadata.get("workflow_type", "InstallationWorkflow") != (
        "InstallationWorkflow"
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
        return await handle.execute_update("schedule_visit", visit, result_type=InstallationState)

    def render(state: InstallationState) -> None:
        visit = state.visit
        out().print(
            f"[bold]{state.ticket_number}[/] {state.phase.value}"
            + (f": {_dt(visit.at)} with {visit.technician}" if visit else "")
        )

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
            from ticketing.schemas import InstallationResult

            typed = client.get_workflow_handle(handle.id, result_type=InstallationResult)
            done = await _bounded(
                typed.result(),
                timeout,
                f"workflow {handle.id} did not finish within {timeout:.0f}s: is a worker running?",
            )
            result.update(phase=done.phase.value, status=done.ticket.status.value)
        return result

    run(
        json_out,
        action,
        lambda r: out().print(
            f"[bold]{r['ticket_number']}[/] "
            + (f"{r['phase']} (ticket {r['status']})" if r["phase"] else f"sent {r['signal']}")
        ),
    )


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
    _finish_installation(ticket, "complete_installation", payload, wait, timeout, json_out)


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
    _finish_installation(ticket, "cancel_installation", payload, wait, timeout, json_out)


# -- tickets ---------------------------------------------------------------------------------


async def query_sla(client: Client, ticket_number: str) -> SlaSnapshot | None:
    from activities.watchers import escalation_workflow_id

    handle = client.get_workflow_handle(escalation_workflow_id(ticket_number))
    return await handle.query(
        "sla_state",
        result_type=SlaSnapshot | None,  # type: ignore[arg-type]
        rpc_timeout=QUERY_TIMEOUT,
    )


@ticket_app.command("show")
def ticket_show(
    ticket: str = typer.Argument(..., help="TKT-… or the ticket's UUID."),
    tenant: str = typer.Option(None, "--tenant", help="Only if it belongs to this tenant."),
    json_out: bool = JSON_OPTION,
) -> None:
    """A ticket, its timeline and the live SLA state from its escalation watcher."""
    from ticketing.tickets.service import TicketService

    settings = Settings()

    async def action() -> dict[str, Any]:
        async with database(settings) as sessions, sessions() as s:
            service = TicketService(s, operator(tenant))
            info = await service.get_ticket(ticket)
            messages, events = await service.timeline(info.ticket_id)
        sla: SlaSnapshot | None = None
        sla_error: str | None = None
        try:
            client = await temporal(settings)
            sla = await query_sla(client, info.ticket_number)
            if sla is None:
                sla_error = "the SLA watcher has not read the ticket yet"
        except Exception as exc:  # noqa: BLE001 - the ticket is still worth showing
            sla_error = f"the SLA watcher is not running ({to_cli_error(exc).message})"
        return {
            "ticket": info.model_dump(mode="json"),
            "messages": [m.model_dump(mode="json") for m in messages],
            "events": [e.model_dump(mode="json") for e in events],
            "sla": sla.model_dump(mode="json") if sla else None,
            "sla_error": sla_error,
        }

    run(json_out, action, _render_ticket)


def _render_ticket(r: dict[str, Any]) -> None:
    console = out()
    t = r["ticket"]
    console.print(f"[bold]{t['ticket_number']}[/] {t['title']}")
    fields = Table.grid(padding=(0, 2))
    for label, key in (
        ("status", "status"),
        ("priority", "priority"),
        ("type", "ticket_type"),
        ("tenant", "tenant_id"),
        ("customer", "customer_id"),
        ("team", "assigned_team"),
        ("assignee", "assigned_to"),
        ("channel", "channel"),
        ("first response due", "first_response_due"),
        ("resolution due", "sla_due_date"),
        ("breached", "sla_breached"),
        ("escalation level", "escalation_level"),
        ("created", "created_at"),
    ):
        value = t.get(key)
        fields.add_row(f"[dim]{label}[/]", "-" if value is None else str(value))
    console.print(fields)
    if t.get("description"):
        console.print(t["description"])
    timeline = Table(title="timeline", show_lines=False)
    timeline.add_column("at")
    timeline.add_column("what")
    timeline.add_column("who")
    timeline.add_column("details", overflow="fold")
    rows = [
        (
            m["created_at"],
            "internal note" if m["is_internal"] else "message",
            f"{m['author_actor']}" + (f" {m['author']}" if m["author"] else ""),
            m["body"],
        )
        for m in r["messages"]
    ]
    rows += [
        (e["created_at"], e["kind"], e["actor"] or "", event_details(e["data"]))
        for e in r["events"]
    ]
    for at, what, who, details in sorted(rows, key=lambda row: row[0]):
        timeline.add_row(at[:19].replace("T", " "), what, who, details)
    console.print(timeline)
    sla = r["sla"]
    if sla:
        console.print(
            f"SLA: phase [bold]{sla['phase']}[/], paused {sla['paused']}, "
            f"breached {sla['breached'] or 'none'}, level L{sla['escalation_level']}, "
            f"next {sla['next_kind'] or '-'} at {sla['next_at'] or '-'}"
        )
    else:
        console.print(f"SLA: [yellow]{r['sla_error']}[/]")


def event_details(data: dict[str, Any]) -> str:
    parts = []
    for key, value in data.items():
        if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
            try:
                value = datetime.fromisoformat(value).strftime("%H:%M:%S")
            except ValueError:
                pass
        parts.append(f"{key}={value}")
    return ", ".join(parts)


class _OperatorWatchers:
    """The watchers port for the CLI: a committed change stands even when Temporal is out of
    reach; the failure becomes a warning and the reconciler repairs the watcher."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.warning: str | None = None

    async def _port(self) -> Any:
        from activities.watchers import TemporalWatchers

        return TemporalWatchers(await temporal(self.settings), self.settings.task_queue)

    async def ensure(self, ticket: TicketInfo) -> None:
        try:
            await (await self._port()).ensure(ticket)
        except Exception as exc:  # noqa: BLE001 - the change is committed; see the class
            self.warning = to_cli_error(exc).message

    async def wake(self, ticket: TicketInfo) -> None:
        try:
            await (await self._port()).wake(ticket)
        except Exception as exc:  # noqa: BLE001 - the change is committed; see the class
            self.warning = to_cli_error(exc).message


async def _mutate(
    settings: Settings, tenant: str | None, change: Callable[[Any], Awaitable[TicketInfo]]
) -> dict[str, Any]:
    """One flow: the change in one transaction, then its watcher woken and notices sent."""
    from ticketing.notifications.service import DirectDelivery
    from ticketing.notify import Notifier
    from ticketing.tickets.flows import TicketFlows

    watchers = _OperatorWatchers(settings)
    async with database(settings) as sessions:
        flows = TicketFlows(
            sessions,
            operator(tenant),
            watchers=watchers,
            notices=DirectDelivery(sessions, Notifier.from_settings(settings)),
        )
        info = await change(flows)
    return {
        "ticket": info.model_dump(mode="json"),
        "watcher_notified": watchers.warning is None,
        "warning": watchers.warning,
    }


def _mutation(
    json_out: bool,
    settings: Settings,
    tenant: str | None,
    change: Callable[[Any], Awaitable[TicketInfo]],
    verb: str,
) -> None:
    def render(r: dict[str, Any]) -> None:
        t = r["ticket"]
        out().print(f"[bold]{t['ticket_number']}[/] {verb}: status {t['status']}")
        if r["warning"]:
            warn(f"the SLA watcher was not notified: {r['warning']}", json_out)

    run(json_out, lambda: _mutate(settings, tenant, change), render)


@ticket_app.command("reply")
def ticket_reply(
    ticket: str = typer.Argument(..., help="TKT-…"),
    body: str = typer.Option(..., "--body", help="Message text."),
    internal: bool = typer.Option(False, "--internal", help="Internal note (not a response)."),
    actor: str = typer.Option("tenant", help="customer|tenant|partner|platform."),
    author: str = typer.Option(None, help="Who wrote it (name or email)."),
    tenant: str = typer.Option(None, "--tenant", help="Only if it belongs to this tenant."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Add a reply (or --internal note); the assigned side's first public reply is the first
    response."""
    _mutation(
        json_out,
        Settings(),
        tenant,
        lambda flows: flows.reply(
            ticket, body=body, author_actor=actor, author=author, is_internal=internal
        ),
        "noted" if internal else "replied",
    )


def _status_verb(name: str, status: TicketStatus, help_text: str) -> None:
    def command(
        ticket: str = typer.Argument(..., help="TKT-…"),
        actor: str = typer.Option(None, help="Who made the change."),
        tenant: str = typer.Option(None, "--tenant", help="Only if it belongs to this tenant."),
        json_out: bool = JSON_OPTION,
    ) -> None:
        _mutation(
            json_out,
            Settings(),
            tenant,
            lambda flows: flows.change_status(ticket, status, actor=actor),
            name,
        )

    command.__doc__ = help_text
    ticket_app.command(name)(command)


_status_verb("pending", TicketStatus.PENDING, "Waiting on the customer: the SLA clock pauses.")
_status_verb("resolve", TicketStatus.RESOLVED, "Resolve the ticket: its watcher ends.")
_status_verb("close", TicketStatus.CLOSED, "Close the ticket.")
_status_verb(
    "reopen",
    TicketStatus.OPEN,
    "Reopen (or resume) the ticket: a fresh resolution window and a new watcher.",
)


@tickets_app.command("list")
def tickets_list(
    tenant: str = typer.Option(None, "--tenant"),
    status: str = typer.Option(None, "--status", help="open|in_progress|pending|resolved|closed."),
    priority: str = typer.Option(None, "--priority", help="low|normal|high|urgent."),
    ticket_type: str = typer.Option(None, "--type", help="Ticket type slug."),
    assignee: str = typer.Option(None, "--assignee"),
    team: str = typer.Option(None, "--team"),
    breached: bool = typer.Option(None, "--breached/--not-breached"),
    search: str = typer.Option(None, "--search", help="Number, title or customer id."),
    limit: int = typer.Option(50, "--limit"),
    cursor: str = typer.Option(None, "--cursor", help="next_cursor of the previous page."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Newest first, filtered, one page at a time."""
    from ticketing.tickets.service import TicketService

    async def action() -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "status": _enum(TicketStatus, "status", status),
            "priority": _enum(Priority, "priority", priority),
            "ticket_type": _enum(TicketType, "ticket_type", ticket_type),
            "assigned_to": assignee,
            "assigned_team": team,
            "breached": breached,
            "search": search,
            "limit": limit,
            "cursor": cursor,
        }
        async with database(Settings()) as sessions, sessions() as s:
            try:
                page = await TicketService(s, operator(tenant)).list_tickets(**kwargs)
            except (ValueError, IndexError) as exc:
                if cursor is None:
                    raise
                raise InvalidInput("cursor", cursor, "is not a cursor from this list") from exc
        return {
            "items": [t.model_dump(mode="json") for t in page.items],
            "next_cursor": page.next_cursor,
        }

    def render(r: dict[str, Any]) -> None:
        console = out()
        wide = console.width >= 120
        table = Table(box=box.SIMPLE_HEAD)
        columns = ["number", "status", "prio", "SLA", "type", "title"]
        if wide:
            columns += ["customer", "team", "resolution due"]
        for column in columns:
            table.add_column(
                column, no_wrap=column in ("number", "status", "prio", "SLA"), overflow="fold"
            )
        for t in r["items"]:
            sla = f"L{t['escalation_level']}" + (" [red]![/]" if t["sla_breached"] else "")
            row = [
                t["ticket_number"],
                t["status"],
                t["priority"],
                sla,
                t["ticket_type"],
                t["title"],
            ]
            if wide:
                row += [
                    f"{t['tenant_id']}/{t['customer_id']}",
                    t["assigned_team"] or "-",
                    (t["sla_due_date"] or "-")[:16].replace("T", " "),
                ]
            table.add_row(*row)
        console.print(table)
        if r["next_cursor"]:
            console.print(f"more: --cursor {r['next_cursor']}")

    run(json_out, action, render)


if __name__ == "__main__":  # pragma: no cover
    app()
