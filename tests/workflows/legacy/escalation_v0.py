"""EscalationWorkflow as released before the priority search attribute patch (for deploy tests)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.tickets import TicketActivities
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
    from workflows.common import DB_ACTIVITY_TIMEOUT, DB_RETRY, NOTIFY_TIMEOUT

# Timers that fire a little early would only re-read the snapshot; this keeps breaches from
# being judged a few milliseconds before their due time because of clock rounding.
_SETTLE = timedelta(milliseconds=5)


@workflow.defn(name="EscalationWorkflow")
class EscalationWorkflowV0:
    def __init__(self) -> None:
        self._changed = False
        self._snapshot: SlaSnapshot | None = None
        self._breaches: list[str] = []
        self._warnings: list[str] = []

    @workflow.signal(name="ticket_changed")
    def ticket_changed(self) -> None:
        """The ticket changed in the database: re-read it now instead of at the next timer."""
        self._changed = True

    @workflow.query(name="sla_state")
    def sla_state(self) -> SlaSnapshot | None:
        return self._snapshot

    @workflow.run
    async def run(self, input: EscalationInput) -> EscalationResult:
        snapshot = await self._read(input)
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

    async def _read(self, input: EscalationInput) -> SlaSnapshot:
        self._changed = False
        self._snapshot = await workflow.execute_activity_method(
            TicketActivities.sla_snapshot,
            SnapshotInput(ticket_id=input.ticket_id, now=workflow.now()),
            start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        return self._snapshot

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
        outcome: BreachResult = await workflow.execute_activity_method(
            TicketActivities.record_breach,
            RecordBreachInput(
                ticket_id=input.ticket_id, kind=snapshot.next_kind, now=workflow.now()
            ),
            start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        if outcome.recorded:
            target = self._warnings if snapshot.next_kind.endswith("_warning") else self._breaches
            target.append(f"{snapshot.next_kind}@L{snapshot.escalation_level}")
        if outcome.notification_ids:
            await workflow.execute_activity_method(
                TicketActivities.send_notifications,
                SendNotificationsInput(notification_ids=outcome.notification_ids),
                start_to_close_timeout=NOTIFY_TIMEOUT,
                retry_policy=DB_RETRY,
            )
        self._snapshot = outcome.snapshot
        return outcome.snapshot
