"""Ticketing worker: connects to Temporal and PostgreSQL, registers workflows and activities."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)
from temporalio.plugin import SimplePlugin
from temporalio.worker import Interceptor, UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.mail import MailActivities
from activities.notifications import NotificationActivities
from activities.outages import OutageActivities
from activities.reconcile import ReconcileActivities
from activities.tickets import TicketActivities
from ticketing.db.engine import (
    SchemaNotCurrent,
    make_engine,
    make_sessionmaker,
    prepare_schema,
    resolve_database_url,
)
from ticketing.notifications.dispatch import DispatchRules
from ticketing.notifications.mailer import Notifier
from ticketing.reconcile.schemas import ReconcileInput
from ticketing.runtime.heap import freeze_startup_heap
from ticketing.runtime.logging import configure_logging
from ticketing.runtime.observability import configure_tracing
from ticketing.runtime.settings import Settings
from ticketing.temporal.caller import CallerCheck
from ticketing.temporal.client import connect_client
from ticketing.temporal.dispatcher import DispatcherDoorbell, dispatcher_input, ensure_dispatcher
from ticketing.temporal.watchers import TemporalWatchers
from workflows import ALL_WORKFLOWS

log = structlog.get_logger(__name__)
T = TypeVar("T")

# In-flight activities get this long to finish on SIGTERM before they are cancelled.
GRACEFUL_SHUTDOWN = timedelta(seconds=20)


def add_temporal_context(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: every line logged inside an activity carries its ids."""
    if activity.in_activity():
        info = activity.info()
        event.setdefault("workflow_id", info.workflow_id)
        event.setdefault("workflow_run_id", info.workflow_run_id)
        event.setdefault("activity_id", info.activity_id)
        event.setdefault("activity_type", info.activity_type)
        event.setdefault("attempt", info.attempt)
    return event


def build_worker(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    notifier: Notifier | None = None,
    extra_workflows: Sequence[type] = (),
    extra_activities: Sequence[Callable[..., Any]] = (),
    interceptors: Sequence[Interceptor] = (),
    sandbox_all: bool = False,
) -> Worker:
    """The production worker; the extras let benchmarks add baselines under the same options.

    EscalationWorkflow runs outside the sandbox (see its module); `sandbox_all` puts it back in,
    which the test suite does so that a non-deterministic call added to it still fails there.
    """
    sandboxed = SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            "ticketing",
            "activities",
            "pydantic",
            "sqlalchemy",
            "structlog",
            "asyncpg",
            "opentelemetry",
        )
    )
    notifier = notifier or Notifier.from_settings(settings)
    activities = TicketActivities(
        sessions,
        client=client,
        notifier=notifier,
        task_queue=settings.task_queue,
        dispatcher=dispatcher_input(settings),
        max_clock_skew=timedelta(seconds=settings.max_clock_skew),
    )
    notices = NotificationActivities(
        sessions,
        notifier,
        DispatchRules.from_settings(settings),
        callers=CallerCheck(client, settings.task_queue),
    )
    reconcile = ReconcileActivities(
        sessions, client=client, notices=activities.notices, task_queue=settings.task_queue
    )
    mail = mail_activities(client, sessions, settings, activities.notices)
    outages = OutageActivities(
        sessions,
        watchers=activities.watchers,
        notices=activities.notices,
        callers=CallerCheck(client, settings.task_queue),
    )
    # The doorbell's rings are tasks of this worker's: they stop when it does.
    doorbell = activities.notices
    plugins = (
        [SimplePlugin("ticketing.doorbell", run_context=doorbell.lifetime)]
        if isinstance(doorbell, DispatcherDoorbell)
        else []
    )
    return Worker(
        client,
        task_queue=settings.task_queue,
        plugins=plugins,
        workflows=[*ALL_WORKFLOWS, *extra_workflows],
        activities=[
            *activities.all(),
            reconcile.reconcile_watchers,
            reconcile.reconcile_outbox,
            reconcile.reconcile_outages,
            outages.outage_page,
            notices.dispatch_notifications,
            mail.poll_mailboxes,
            *extra_activities,
        ],
        workflow_runner=sandboxed,
        unsandboxed_workflow_runner=sandboxed if sandbox_all else UnsandboxedWorkflowRunner(),
        max_concurrent_activities=settings.max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
        max_concurrent_local_activities=settings.max_concurrent_local_activities,
        max_cached_workflows=settings.max_cached_workflows,
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        interceptors=interceptors,
    )


async def ensure_reconciler_schedule(client: Client, settings: Settings) -> None:
    """Register the reconciler's schedule once per namespace and task queue (visible in the UI
    under Schedules); a schedule already there is kept as the operator may have tuned it."""
    from workflows.reconciler import RECONCILER_SCHEDULE, ReconcilerWorkflow

    schedule_id = f"{RECONCILER_SCHEDULE}-{settings.task_queue}"
    try:
        await client.create_schedule(
            schedule_id,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    ReconcilerWorkflow.run,
                    ReconcileInput(),
                    id=schedule_id,
                    task_queue=settings.task_queue,
                ),
                spec=ScheduleSpec(
                    intervals=[
                        ScheduleIntervalSpec(every=timedelta(seconds=settings.reconcile_every))
                    ]
                ),
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
            ),
        )
    except ScheduleAlreadyRunningError:
        return
    log.info("reconciler_scheduled", schedule_id=schedule_id, every=settings.reconcile_every)


def mail_activities(
    client: Client, sessions: async_sessionmaker[AsyncSession], settings: Settings, notices: Any
) -> MailActivities:
    """The IMAP poller's activity, over the same intake flow as every mail door."""
    from ticketing.auth.signed_links import MissingSecretKey, secret_key
    from ticketing.mail.flows import MailIntake
    from ticketing.mail.mailboxes import PasswordBox
    from ticketing.smtp.config import intake_config

    try:
        passwords: PasswordBox | None = PasswordBox(secret_key(settings))
    except MissingSecretKey:
        passwords = None  # no IMAP password can be opened; the poll says so
    intake = MailIntake(
        sessions,
        watchers=TemporalWatchers(client, settings.task_queue),
        notices=notices,
        config=intake_config(settings),
    )
    return MailActivities(
        sessions, intake, passwords, callers=CallerCheck(client, settings.task_queue)
    )


async def ensure_mail_poller(client: Client, settings: Settings) -> None:
    """Start the task queue's IMAP poller unless it runs."""
    from temporalio.common import WorkflowIDConflictPolicy

    from ticketing.smtp.polling import MailPollerInput
    from ticketing.temporal.names import MAIL_POLLER_WORKFLOW, mail_poller_workflow_id

    await client.start_workflow(
        MAIL_POLLER_WORKFLOW,
        MailPollerInput(poll_seconds=settings.mail_imap_poll_seconds),
        id=mail_poller_workflow_id(settings.task_queue),
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def run_worker(
    settings: Settings,
    *,
    client: Client | None = None,
    database_url: str | None = None,
    shutdown: asyncio.Event | None = None,
    migrate: bool = True,
) -> None:
    """Run until `shutdown` is set (or SIGINT/SIGTERM when none is given).

    With `migrate`, the embedded database is migrated; a configured one must already be at head.
    """
    url = database_url or resolve_database_url(settings)
    if migrate:
        await _until_up(
            "postgresql",
            lambda: prepare_schema(settings, url),
            settings.startup_timeout,
            fatal=(SchemaNotCurrent,),
        )
    if client is None:
        client = await _until_up(
            "temporal", lambda: connect_client(settings), settings.startup_timeout
        )
    engine = make_engine(url, settings)
    stop = shutdown or _signal_event()
    try:
        await ensure_reconciler_schedule(client, settings)
        await ensure_dispatcher(client, settings.task_queue, dispatcher_input(settings))
        await ensure_mail_poller(client, settings)
        worker = build_worker(client, make_sessionmaker(engine), settings)
        freeze_startup_heap()
        async with worker:
            log.info("worker_started", task_queue=settings.task_queue, namespace=client.namespace)
            await stop.wait()
            log.info("worker_stopping", grace_seconds=GRACEFUL_SHUTDOWN.total_seconds())
    finally:
        await engine.dispose()
    log.info("worker_stopped")


async def _until_up(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    timeout: float,
    fatal: tuple[type[Exception], ...] = (),
) -> T:
    """Retry start-up against a dependency that may still be starting (or restarting)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.2
    while True:
        try:
            return await attempt()
        except Exception as error:  # noqa: BLE001 - any failure to reach it is worth a retry
            if isinstance(error, fatal) or loop.time() + delay > deadline:
                raise
            log.warning(
                "waiting_for_dependency", dependency=what, error=str(error)[:200], retry_in=delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def _signal_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level, extra=[add_temporal_context])
    configure_tracing()
    asyncio.run(run_worker(settings))


if __name__ == "__main__":
    main()
