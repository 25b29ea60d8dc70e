"""EscalationWorkflow: one per ticket; sleeps to the next SLA threshold, then acts on it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.tickets import TicketActivities
    from ticketing.temporal import names
    from ticketing.temporal.schemas import (
        DONE_STATUSES,
        BreachResult,
        EscalationInput,
        EscalationResult,
        RecordBreachInput,
        SendNotificationsInput,
        SlaSnapshot,
        SnapshotInput,
    )
    from ticketing.temporal.watchers import TICKET_PRIORITY
    from workflows.common import (
        DB_ACTIVITY_TIMEOUT,
        DB_RETRY,
        HAND_OVER_RETRY,
        NOTIFY_TIMEOUT,
        reject_bad_input,
    )

if TYPE_CHECKING:
    EscalationInputArg = EscalationInput
else:
    # Undecoded, validated in run(): a bad start (by hand or another language) fails the
    # watcher with InvalidInput instead of failing its workflow task for ever.
    from temporalio.common import RawValue as EscalationInputArg

# Timers that fire a little early would only re-read the snapshot; this keeps breaches from
# being judged a few milliseconds before their due time because of clock rounding.
_SETTLE = timedelta(milliseconds=5)
# After an activity ran out of retries on an infrastructure failure (database down).
_OUTAGE_PAUSE = timedelta(seconds=30)

A = TypeVar("A")
R = TypeVar("R")


# Outside the sandbox: there is one watcher per open ticket and a burst of tickets means a burst
# of their timers, and the sandbox's per-run module import and per-activation overhead were a
# fifth of the worker's CPU per threshold (bench/timer_accuracy.py: p99 3.6 s -> 1.0 s late at
# 1,000 tickets in one minute). This module imports nothing but the SDK and passed-through
# data types; the tests run it sandboxed (worker.build_worker(sandbox_all=True)) and replay
# recorded histories, which is what keeps it deterministic.
@workflow.defn(name=names.ESCALATION_WORKFLOW, sandboxed=False)
class EscalationWorkflow:
    def __init__(self) -> None:
        self._changed = False
        self._snapshot: SlaSnapshot | None = None
        self._breaches: list[str] = []
        self._warnings: list[str] = []
        self._priority: str | None = None
        self._local = False

    @workflow.signal(name=names.TICKET_CHANGED_SIGNAL)
    def ticket_changed(self) -> None:
        """The ticket changed in the database: re-read it now instead of at the next timer."""
        self._changed = True

    @workflow.query(name=names.SLA_STATE_QUERY)
    def sla_state(self) -> SlaSnapshot | None:
        return self._snapshot

    @workflow.run
    async def run(self, input: EscalationInputArg) -> EscalationResult:
        input = reject_bad_input(EscalationInput, input)
        # Local activities: a threshold costs the server one workflow task instead of three
        # plus two activity tasks, which is what keeps breaches on time when thousands fall
        # due together. Runs begun before this change keep their regular activities.
        self._local = workflow.patched("watcher-local-activities")
        self._verify_id(input)
        snapshot = await self._read(input)
        self._verify_ticket(input, snapshot)
        while snapshot.status not in DONE_STATUSES:
            if await self._sleep_until_threshold(snapshot):
                snapshot = await self._read(input)
            else:
                snapshot = await self._fire(input, snapshot)
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(input)
        return EscalationResult(
            ticket_number=snapshot.ticket_number,
            status=snapshot.status,
            escalation_level=snapshot.escalation_level,
            breaches=self._breaches,
            warnings=self._warnings,
        )

    def _verify_id(self, input: EscalationInput) -> None:
        """A watcher's id names the ticket it watches: one started under another ticket's id
        would hide that ticket's SLA (the id is taken) and show this one's in its place."""
        expected = names.escalation_workflow_id(input.ticket_number)
        if workflow.info().workflow_id != expected:
            raise _mismatch(f"workflow id {workflow.info().workflow_id!r} is not {expected!r}")

    def _verify_ticket(self, input: EscalationInput, snapshot: SlaSnapshot) -> None:
        """The ticket read is the one the input names: same number, same tenant."""
        if snapshot.ticket_number != input.ticket_number:
            raise _mismatch(f"ticket {input.ticket_id} is not {input.ticket_number}")
        if input.tenant_id is not None and snapshot.tenant_id != input.tenant_id:
            raise _mismatch(f"ticket {input.ticket_number} is not of tenant {input.tenant_id!r}")

    async def _read(self, input: EscalationInput) -> SlaSnapshot:
        self._changed = False
        self._snapshot = await self._call(
            TicketActivities.sla_snapshot,
            SnapshotInput(ticket_id=input.ticket_id, now=workflow.now()),
        )
        self._follow_priority(self._snapshot)
        return self._snapshot

    def _follow_priority(self, snapshot: SlaSnapshot) -> None:
        """Keep the TicketPriority search attribute right after a priority change.

        Added after release: watchers started on the earlier code replay without the marker,
        so the patch keeps their histories deterministic (see README, "Deploying changes").
        """
        if snapshot.priority is None or snapshot.priority.value == self._priority:
            return
        known = self._priority or workflow.info().typed_search_attributes.get(TICKET_PRIORITY)
        self._priority = snapshot.priority.value
        if self._priority != known and workflow.patched("priority-search-attribute"):
            workflow.upsert_search_attributes([TICKET_PRIORITY.value_set(self._priority)])

    async def _call(self, activity: Callable[[TicketActivities, A], Awaitable[R]], arg: A) -> R:
        """Run an activity; when its bounded retries run out on an infrastructure failure,
        wait and try again: the watcher outlives any database outage, but never retries
        invisibly inside one local activity (a worker can always stop)."""
        while True:
            try:
                if self._local:
                    return await workflow.execute_local_activity_method(
                        activity,
                        arg,
                        start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
                        retry_policy=DB_RETRY,
                    )
                return await workflow.execute_activity_method(
                    activity, arg, start_to_close_timeout=DB_ACTIVITY_TIMEOUT, retry_policy=DB_RETRY
                )
            except (ActivityError, ApplicationError) as error:
                # A local activity's failure arrives as the ApplicationError itself.
                cause = error.cause if isinstance(error, ActivityError) else error
                if isinstance(cause, ApplicationError) and cause.non_retryable:
                    raise
                workflow.logger.warning("watcher activity out of retries; waiting: %s", cause)
                await workflow.sleep(_OUTAGE_PAUSE)

    async def _sleep_until_threshold(self, snapshot: SlaSnapshot) -> bool:
        """Sleep until the next threshold; True if a signal woke us first (or nothing is due)."""
        if snapshot.next_at is None:
            # Paused, or nothing left to watch until the ticket changes.
            await workflow.wait_condition(lambda: self._changed)
            return True
        delay = max(snapshot.next_at - workflow.now() + _SETTLE, timedelta(0))
        try:
            await workflow.wait_condition(
                lambda: self._changed, timeout=delay, timeout_summary=f"sla {snapshot.next_kind}"
            )
        except TimeoutError:
            return self._changed
        return True

    async def _fire(self, input: EscalationInput, snapshot: SlaSnapshot) -> SlaSnapshot:
        assert snapshot.next_kind is not None
        self._changed = False
        outcome: BreachResult = await self._call(
            TicketActivities.record_breach,
            RecordBreachInput(
                ticket_id=input.ticket_id, kind=snapshot.next_kind, now=workflow.now()
            ),
        )
        if outcome.recorded:
            # "resolution_warning" or "resolution_warning_90" are warnings; the rest breaches.
            is_warning = "_warning" in snapshot.next_kind
            target = self._warnings if is_warning else self._breaches
            target.append(f"{snapshot.next_kind}@L{snapshot.escalation_level}")
        if outcome.notification_ids and not self._local:
            # Runs begun before local activities kept this step; it only wakes the dispatcher,
            # which polls anyway: its failure must not end the watcher.
            try:
                await workflow.execute_activity_method(
                    TicketActivities.send_notifications,
                    SendNotificationsInput(notification_ids=outcome.notification_ids),
                    start_to_close_timeout=NOTIFY_TIMEOUT,
                    retry_policy=HAND_OVER_RETRY,
                )
            except ActivityError:
                workflow.logger.warning("notice hand-over failed; the dispatcher will find it")
        self._snapshot = outcome.snapshot
        return outcome.snapshot


def _mismatch(detail: str) -> ApplicationError:
    # Fails the run (not its task): a squatter must end, visibly, so the real watcher can start.
    return ApplicationError(
        f"watcher mismatch: {detail}", type="WatcherMismatch", non_retryable=True
    )
