"""The IMAP poller's pass is tried again soon after its worker died, not after the pass's
ten-minute start-to-close timeout: the chaos run found IMAP intake stalled that long after
each worker SIGKILL (issue 23). The first attempt here stands for the dead worker: it never
answers and never heartbeats."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from ticketing.smtp.polling import MailPollerInput, PollInput, PollReport
from ticketing.temporal.names import MAIL_POLLER_WORKFLOW, POLL_MAILBOXES_ACTIVITY
from workflows.mail_poller import PASS_HEARTBEAT, PASS_TIMEOUT, MailPollerWorkflow


async def test_a_pass_whose_worker_died_is_tried_again_after_the_heartbeat_timeout(
    env: WorkflowEnvironment,
) -> None:
    attempts: list[tuple[int, datetime]] = []
    second = asyncio.Event()

    @activity.defn(name=POLL_MAILBOXES_ACTIVITY)
    async def poll_mailboxes(input: PollInput) -> PollReport:
        info = activity.info()
        attempts.append((info.attempt, info.current_attempt_scheduled_time))
        if info.attempt == 1:
            await asyncio.sleep(3600)  # a worker that is gone: no answer, no heartbeat
        second.set()
        return PollReport()

    queue = f"poller-{uuid.uuid4().hex[:8]}"
    async with Worker(
        env.client, task_queue=queue, workflows=[MailPollerWorkflow], activities=[poll_mailboxes]
    ):
        handle = await env.client.start_workflow(
            MAIL_POLLER_WORKFLOW, MailPollerInput(poll_seconds=60), id=queue, task_queue=queue
        )
        # Waiting on the result lets the test server skip time through the timeouts.
        waiting = asyncio.create_task(handle.result())
        await asyncio.wait_for(second.wait(), 60)
        waiting.cancel()
        await handle.terminate()
    (first, first_at), (retry, retry_at) = attempts[:2]
    assert (first, retry) == (1, 2)
    assert PASS_HEARTBEAT <= retry_at - first_at < PASS_HEARTBEAT + timedelta(seconds=30)
    assert retry_at - first_at < PASS_TIMEOUT
