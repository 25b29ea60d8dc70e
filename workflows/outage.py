"""OutageWorkflow: one per outage (`outage-<number>`); pages its updates out until resolved.

Each activity call is one page of customers (link their tickets, queue their notices, move the
page position stored with the outage), so the run's history grows by a handful of events per
page, never per customer. A signal says a new update (or the resolution) was recorded; the run
continues as new after `pages_per_run` pages, or when the server suggests it, so 50,000
customers and any number of updates stay far inside Temporal's history limits. Everything the
run knows is in the database, so a new run (after continue-as-new, a lost worker, or the
reconciler's restart) simply asks for the next page.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.outages import OutageActivities
    from activities.tickets import NON_RETRYABLE_ERRORS
    from ticketing.outages.schemas import OutagePageInput, OutageRunInput, PageResult
    from ticketing.temporal import names

# A page is one transaction over at most `page_size` customers: seconds, not minutes. The
# activity heartbeats beside it, so a lost worker is noticed in PAGE_HEARTBEAT, not PAGE_TIMEOUT.
PAGE_TIMEOUT = timedelta(minutes=2)
PAGE_HEARTBEAT = timedelta(seconds=20)
# Bounded: a database down for longer fails the run, the page stays where it was in the
# database, and the reconciler (or the next update's signal) starts the run again.
PAGE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=20,
    non_retryable_error_types=NON_RETRYABLE_ERRORS,
)


@workflow.defn(name=names.OUTAGE_WORKFLOW)
class OutageWorkflow:
    def __init__(self) -> None:
        self._changed = False
        self._pages = 0

    @workflow.signal(name=names.OUTAGE_CHANGED_SIGNAL)
    def outage_changed(self) -> None:
        """An update or the resolution was recorded: page it out."""
        self._changed = True

    @workflow.query(name="outage_pages")
    def pages(self) -> int:
        """Pages done by this run (continue-as-new starts again from 0)."""
        return self._pages

    @workflow.run
    async def run(self, input: OutageRunInput) -> PageResult:
        page = OutagePageInput(
            tenant_id=input.tenant_id, ticket_number=input.ticket_number, limit=input.page_size
        )
        while True:
            # Cleared before the page: a signal that lands while it runs is not lost.
            self._changed = False
            result: PageResult = await workflow.execute_activity_method(
                OutageActivities.outage_page,
                page,
                start_to_close_timeout=PAGE_TIMEOUT,
                heartbeat_timeout=PAGE_HEARTBEAT,
                retry_policy=PAGE_RETRY,
            )
            self._pages += 1
            if result.finished:
                return result
            if not result.more:
                await self._idle(input)
            if self._pages >= input.pages_per_run or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    input.model_copy(update={"pages_done": input.pages_done + self._pages})
                )

    async def _idle(self, input: OutageRunInput) -> None:
        """Every update so far has gone out: wait for the next one. A signal lost with a
        crashed door is covered by a look now and then (one timer an hour by default)."""
        try:
            await workflow.wait_condition(
                lambda: self._changed,
                timeout=timedelta(seconds=input.idle_check_seconds),
                timeout_summary="next update",
            )
        except TimeoutError:
            return
