"""MailPollerWorkflow: one per task queue; fetches every IMAP mailbox, pass after pass."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.mail import MailActivities
    from ticketing.smtp.polling import MailPollerInput, PollInput, PollReport
    from ticketing.temporal import names

PASS_TIMEOUT = timedelta(minutes=10)
# The pass heartbeats while its worker lives: a pass whose worker died (SIGKILL, a lost node)
# is tried again after this, not after PASS_TIMEOUT. Ten minutes without IMAP intake after
# each worker crash was what the chaos run found (issue 23).
PASS_HEARTBEAT = timedelta(seconds=30)
PASS_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=3,
)


@workflow.defn(name=names.MAIL_POLLER_WORKFLOW)
class MailPollerWorkflow:
    @workflow.run
    async def run(self, input: MailPollerInput) -> None:
        for _ in range(input.passes_per_run):
            try:
                report: PollReport = await workflow.execute_activity_method(
                    MailActivities.poll_mailboxes,
                    PollInput(limit=input.limit),
                    start_to_close_timeout=PASS_TIMEOUT,
                    heartbeat_timeout=PASS_HEARTBEAT,
                    retry_policy=PASS_RETRY,
                )
            except ActivityError:
                # Storage down or the worker lost: every message stays unflagged on its
                # server; the next pass takes it.
                report = PollReport()
            if not report.more:
                await workflow.sleep(timedelta(seconds=input.poll_seconds))
            if workflow.info().is_continue_as_new_suggested():
                break
        workflow.continue_as_new(input)
