"""ReconcilerWorkflow: run by a schedule; sweeps watchers page by page, then the outbox."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.reconcile import ReconcileActivities
    from activities.tickets import NON_RETRYABLE_ERRORS, TicketActivities
    from ticketing.reconcile.schemas import ReconcileInput, ReconcileReport
    from ticketing.sla.schemas import AutoCloseInput
    from ticketing.temporal.names import RECONCILER_WORKFLOW

RECONCILER_SCHEDULE = "ticketing-reconciler"

SWEEP_TIMEOUT = timedelta(minutes=5)
# The sweeps heartbeat once per ticket (or outage): a pass whose worker died resumes on another
# worker after this, and the schedule skips its ticks meanwhile, so it bounds how much a crash
# adds to the watcher backstop's `reconcile_every` (docs/architecture.md). Was 60 s.
SWEEP_HEARTBEAT = timedelta(seconds=20)
SWEEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
    non_retryable_error_types=NON_RETRYABLE_ERRORS,
)


@workflow.defn(name=RECONCILER_WORKFLOW)
class ReconcilerWorkflow:
    @workflow.run
    async def run(self, input: ReconcileInput) -> ReconcileReport:
        sweep = input.watchers
        report = ReconcileReport()
        after: int | None = sweep.after_number
        while after is not None:
            page = await workflow.execute_activity_method(
                ReconcileActivities.reconcile_watchers,
                sweep.model_copy(update={"after_number": after}),
                start_to_close_timeout=SWEEP_TIMEOUT,
                heartbeat_timeout=SWEEP_HEARTBEAT,
                retry_policy=SWEEP_RETRY,
            )
            report.checked += page.checked
            report.started += page.started
            report.replaced += page.replaced
            report.woken += page.woken
            after = page.next_after
            if after is not None and workflow.info().is_continue_as_new_suggested():
                next_sweep = sweep.model_copy(update={"after_number": after})
                workflow.continue_as_new(input.model_copy(update={"watchers": next_sweep}))
        report.notices_handed_over = await workflow.execute_activity_method(
            ReconcileActivities.reconcile_outbox,
            input.outbox,
            start_to_close_timeout=SWEEP_TIMEOUT,
            # One count and one hand-over, no heartbeat of its own.
            heartbeat_timeout=timedelta(seconds=60),
            retry_policy=SWEEP_RETRY,
        )
        # Added after release: runs recorded before it replay without the marker.
        if workflow.patched("auto-close-resolved"):
            report.auto_closed = await workflow.execute_activity_method(
                TicketActivities.auto_close_resolved,
                AutoCloseInput(now=workflow.now()),
                start_to_close_timeout=SWEEP_TIMEOUT,
                retry_policy=SWEEP_RETRY,
            )
        # Added with outages: runs recorded before it replay without the marker.
        if workflow.patched("reconcile-outages"):
            report.outage_runs_started = await workflow.execute_activity_method(
                ReconcileActivities.reconcile_outages,
                200,
                start_to_close_timeout=SWEEP_TIMEOUT,
                heartbeat_timeout=SWEEP_HEARTBEAT,
                retry_policy=SWEEP_RETRY,
            )
        return report
