"""`ticketing demo`: the whole story on the embedded stack in about a minute and a half.

Tenant with second-scale SLA targets → onboarding ticket → installation scheduled and
completed → an urgent outage nobody answers: warning, first-response breach, resolution breach,
escalation L1 → L2 → L3, each printed as the escalation watcher records it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from ticketing.db.embedded import ROOT_WARNING
from ticketing.runtime.settings import Settings
from ticketing.temporal import names
from ticketing.temporal.schemas import (
    CompleteInstallation,
    CreateTicketRequest,
    InstallationInput,
    InstallationResult,
    InstallationState,
    OnboardingInput,
    ScheduleVisit,
    SlaSnapshot,
    TicketEventInfo,
    TicketInfo,
)
from ticketing_ops.cli.tickets import event_details

TENANT = "demo-isp"
PARTNER = "demo-partner"
TOP_LEVEL = 3
WATCH_LIMIT = 100.0  # seconds: urgent is 10s/30s, so L3 arrives after ~60s


class DemoRefused(RuntimeError):
    """The demo writes demo tenants and tickets: never into a configured database or cluster."""


def require_embedded_stack(settings: Settings) -> None:
    """Refuse to run when TICKETING_DATABASE_URL or TEMPORAL_ADDRESS points elsewhere."""
    configured = [
        name
        for name, value in (
            ("TICKETING_DATABASE_URL", settings.database_url),
            ("TEMPORAL_ADDRESS", os.environ.get("TEMPORAL_ADDRESS")),
        )
        if value
    ]
    if configured:
        raise DemoRefused(
            f"demo runs only on the embedded stack: unset {' and '.join(configured)}"
        )


async def run_demo(
    settings: Settings,
    *,
    port: int | None = None,
    ui_port: int | None = None,
    headless: bool = True,
    quiet: bool = False,
    watch_limit: float = WATCH_LIMIT,
) -> dict[str, Any]:
    from ticketing.db.engine import make_engine, make_sessionmaker, safe_url
    from ticketing.runtime.logging import configure_logging
    from ticketing_ops.devstack import dev_stack, find_free_port
    from worker import run_worker

    require_embedded_stack(settings)
    configure_logging(settings.log_format, "ERROR")
    console = Console(quiet=quiet, highlight=False)
    settings = settings.model_copy(update={"home": settings.home / "demo"})
    started = time.monotonic()

    def say(message: str) -> None:
        console.print(f"[dim]{time.monotonic() - started:6.1f}s[/] {message}")

    if os.geteuid() == 0:  # the demo's log level hides the embedded stack's own warning
        console.print(f"[yellow]warning: {ROOT_WARNING}[/]")
    say("starting embedded PostgreSQL and the Temporal dev server …")
    async with dev_stack(
        settings, temporal_port=port or find_free_port(), ui_port=ui_port or find_free_port(),
        headless=headless,
    ) as stack:
        client, url = stack.client, stack.database_url
        say(f"PostgreSQL {safe_url(url)}  Temporal {client.service_client.config.target_host}"
            + (f"  UI {stack.ui_url}" if stack.ui_url else ""))
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(settings, client=client, database_url=url,
                                                shutdown=stop, migrate=False))
        engine = make_engine(url, settings)
        sessions = make_sessionmaker(engine)
        try:
            result = await _story(client, sessions, settings, say, console, watch_limit)
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker, 30)
            await engine.dispose()
        if worker.done() and not worker.cancelled() and worker.exception():
            raise worker.exception()  # type: ignore[misc]
    say("done: worker stopped, dev server stopped")
    return result


async def _story(client: Client, sessions: Any, settings: Settings, say: Any,
                 console: Console, watch_limit: float) -> dict[str, Any]:
    from ticketing.auth.principal import Principal
    from ticketing.notifications.mailer import Notifier
    from ticketing.notifications.service import DirectDelivery
    from ticketing.sla import demo_policy
    from ticketing.temporal.watchers import TemporalWatchers, escalation_workflow_id
    from ticketing.tenants.schemas import UpsertCustomerInput
    from ticketing.tenants.service import TenantService
    from ticketing.tickets.flows import TicketFlows
    from ticketing.tickets.service import TicketService
    from ticketing_ops.cli.onboarding import wait_installation_ticket

    queue = settings.task_queue
    # Fresh customers every run, so a second demo on the same home starts from scratch.
    base = int(time.time()) % 10_000_000 * 10

    operator = Principal.platform(name="demo")
    async with sessions() as s, s.begin():
        svc = TenantService(s, operator)
        await svc.register_partner(PARTNER, name="Demo Fiber Partner", email="noc@partner.test")
        await svc.register_tenant(TENANT, name="Demo ISP", partner_id=PARTNER,
                                  support_email="support@demo-isp.test", sla_policy=demo_policy())
    say(f"tenant [bold]{TENANT}[/] (partner {PARTNER}) with the demo SLA: "
        "urgent 10s first response / 30s resolution")

    # 1. Onboarding.
    customer = str(base + 1)
    onboarding: TicketInfo = await client.execute_workflow(
        names.ONBOARDING_WORKFLOW,
        OnboardingInput(tenant_id=TENANT, customer_id=customer,
                        customer_email=f"customer{customer}@example.com",
                        customer_name="Ada Lovelace", priority="normal"),
        id=names.onboarding_workflow_id(TENANT, str(customer)), task_queue=queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING, result_type=TicketInfo,
    )
    say(f"onboarding: [bold]{onboarding.ticket_number}[/] {onboarding.title} "
        f"({onboarding.priority.value}, team {onboarding.assigned_team})")

    # 2. Installation: requested, scheduled (an update), completed (a signal).
    handle = await client.start_workflow(
        names.INSTALLATION_WORKFLOW,
        InstallationInput(tenant_id=TENANT, customer_id=customer,
                          service_address="12 Analytical Engine Way",
                          affected_services=["fiber-1g"], device_serial_numbers=["ONT-0001"]),
        id=f"installation-{TENANT}-{customer}-{uuid.uuid4().hex[:8]}", task_queue=queue,
        result_type=InstallationResult,
    )
    state = await wait_installation_ticket(handle, 30)
    say(f"installation: [bold]{state.ticket_number}[/] {state.phase.value}")
    visit_at = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    state = await handle.execute_update(
        names.SCHEDULE_VISIT_UPDATE, ScheduleVisit(at=visit_at, technician="Grace"),
        result_type=InstallationState,
    )
    say(f"installation: {state.ticket_number} {state.phase.value} for {visit_at.isoformat()} "
        "with Grace")
    await handle.signal(
        names.COMPLETE_INSTALLATION_SIGNAL, CompleteInstallation(notes="ONT online")
    )
    done: InstallationResult = await handle.result()
    say(f"installation: {done.ticket.ticket_number} {done.phase.value}, "
        f"ticket {done.ticket.status.value}")

    # 3. An urgent outage nobody answers.
    outage_customer = str(base + 2)
    flows = TicketFlows(sessions, operator, watchers=TemporalWatchers(client, queue),
                        notices=DirectDelivery(sessions, Notifier.from_settings(settings)))
    urgent = await flows.open_for_customer(
        UpsertCustomerInput(tenant_id=TENANT, customer_id=outage_customer,
                            email=f"customer{outage_customer}@example.com"),
        CreateTicketRequest(
            title="Total outage in sector 7", description="No sync on any ONT since 09:00.",
            customer_id=outage_customer, tenant_id=TENANT, priority="urgent",
            ticket_type="outage_report", channel="api",
            idempotency_key=f"demo-outage-{uuid.uuid4()}",
        ))
    say(f"outage: [bold red]{urgent.ticket_number}[/] urgent, first response due "
        f"{_clock(urgent.first_response_due)}, resolution due {_clock(urgent.sla_due_date)}; "
        "nobody answers …")

    watcher = client.get_workflow_handle(escalation_workflow_id(urgent.ticket_number))
    seen = 0
    events: list[TicketEventInfo] = []
    level = urgent.escalation_level
    deadline = time.monotonic() + watch_limit
    while time.monotonic() < deadline:
        await asyncio.sleep(1)
        async with sessions() as s:
            reader = TicketService(s, operator)
            info = await reader.get_ticket(urgent.ticket_id)
            _, events = await reader.timeline(urgent.ticket_id)
        for event in events[seen:]:
            say(f"outage: {_describe(event)}")
        seen = len(events)
        level = info.escalation_level
        if level >= TOP_LEVEL and any(e.kind.value == "escalated" for e in events):
            break
    sla: SlaSnapshot | None = None
    with contextlib.suppress(Exception):
        sla = await watcher.query(names.SLA_STATE_QUERY, result_type=SlaSnapshot | None,  # type: ignore[arg-type]
                                  rpc_timeout=timedelta(seconds=3))
    _timeline_table(console, urgent.ticket_number, events)
    if sla is not None:
        say(f"watcher: phase {sla.phase}, breached {', '.join(sla.breached) or 'none'}, "
            f"level L{sla.escalation_level}")
    if level < TOP_LEVEL:
        say(f"[yellow]outage reached only L{level} within {watch_limit:.0f}s[/]")
    return {
        "tenant_id": TENANT,
        "onboarding_ticket": onboarding.ticket_number,
        "installation_ticket": done.ticket.ticket_number,
        "installation_phase": done.phase.value,
        "urgent_ticket": urgent.ticket_number,
        "escalation_level": level,
        "events": [e.model_dump(mode="json") for e in events],
        "sla": sla.model_dump(mode="json") if sla else None,
    }


def _clock(value: datetime | None) -> str:
    return value.astimezone().strftime("%H:%M:%S") if value else "-"


def _describe(event: TicketEventInfo) -> str:
    kind = event.kind.value
    data = event_details(event.data)
    colour = {"sla_warning": "yellow", "breached": "bold red", "escalated": "bold magenta"}.get(
        kind, "cyan")
    return f"[{colour}]{kind}[/] {data}".rstrip()


def _timeline_table(console: Console, number: str, events: list[TicketEventInfo]) -> None:
    table = Table(title=f"{number} timeline")
    table.add_column("at")
    table.add_column("event")
    table.add_column("actor")
    table.add_column("details", overflow="fold")
    for event in events:
        table.add_row(_clock(event.created_at), event.kind.value, event.actor or "",
                      event_details(event.data))
    console.print(table)
