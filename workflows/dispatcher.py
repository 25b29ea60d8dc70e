"""NotificationDispatcherWorkflow: one per task queue; delivers the outbox, off the SLA path."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities
    from ticketing.notifications.dispatch import DispatcherInput, DispatchInput, DispatchReport
    from ticketing.temporal import names

# A pass sends at most `batch` rows, each within a bounded SMTP session, and heartbeats every
# few seconds whatever the server's pace (activities/heartbeat.py): a pass whose worker died
# is tried again ROW_HEARTBEAT later, its claimed rows when their lease ends. Only the activity's
# type and id are compared on replay, so changing these options needs no patch.
PASS_TIMEOUT = timedelta(minutes=10)
ROW_HEARTBEAT = timedelta(seconds=30)
PASS_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=3,
)


@workflow.defn(name=names.DISPATCHER_WORKFLOW)
class DispatcherWorkflow:
    def __init__(self) -> None:
        self._rung = False

    @workflow.signal(name=names.NOTICES_QUEUED_SIGNAL)
    def notices_queued(self) -> None:
        """Rows were queued: look now rather than at the next poll."""
        self._rung = True

    @workflow.run
    async def run(self, input: DispatcherInput) -> None:
        while True:
            self._rung = False
            try:
                report: DispatchReport = await workflow.execute_activity_method(
                    NotificationActivities.dispatch_notifications,
                    DispatchInput(limit=input.batch),
                    start_to_close_timeout=PASS_TIMEOUT,
                    heartbeat_timeout=ROW_HEARTBEAT,
                    retry_policy=PASS_RETRY,
                )
            except ActivityError:
                # Database down or worker lost: every row stays queued; try at the next poll.
                report = DispatchReport(next_due_seconds=input.poll_seconds)
            if report.connection_trouble:
                # Signals would only retry an unreachable server sooner: sit it out.
                await workflow.sleep(timedelta(seconds=input.outage_pause_seconds))
            else:
                await self._wait(report, input)
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(input)

    async def _wait(self, report: DispatchReport, input: DispatcherInput) -> None:
        due = report.next_due_seconds
        if report.more or (due is not None and due <= 0 and report.handled):
            return
        if due is None:
            # Nothing queued: sleep until rows are. A lost wake-up is the reconciler's to
            # repair (it rings when rows stay due), so an idle outbox costs no timers.
            await workflow.wait_condition(lambda: self._rung)
            return
        # A due row this pass could not claim is held by another sender for a moment.
        wait = min(input.poll_seconds, max(due, 1.0))
        try:
            await workflow.wait_condition(
                lambda: self._rung, timeout=timedelta(seconds=wait), timeout_summary="outbox"
            )
        except TimeoutError:
            return
