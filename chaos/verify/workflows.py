"""Checks on the workflows themselves: each one completed, none looping on retries."""

from __future__ import annotations

from collections.abc import Sequence

from chaos.plan import Request
from chaos.report import Add
from chaos.verify.facts import WorkflowFacts
from workflows.common import DB_RETRY

# "Stuck in a retry loop" bounds. With DB_RETRY (200 ms doubling to 10 s) an outage of a few
# seconds costs a handful of attempts; dozens mean a loop that does not end with the outage.
MAX_ACTIVITY_ATTEMPT = 20
MAX_WORKFLOW_TASK_FAILURES = 2
MAX_PENDING_ATTEMPT = 5
MAX_WORKFLOW_TASKS = 40
# A local activity retrying shows in no describe; its markers carry its attempt. A database
# outage may take a call to its retry bound, never past it.
MAX_LOCAL_ATTEMPT = DB_RETRY.maximum_attempts


def check_completed(
    add: Add, requests: Sequence[Request], business: Sequence[WorkflowFacts]
) -> None:
    not_started = [r.workflow_id + f" ({r.error})" for r in requests if not r.started]
    unfinished = [
        f"{f.workflow_id}: {f.status}" + (f" ({f.error})" if f.error else "")
        for f in business if f.status != "COMPLETED"
    ]
    unsignalled = [
        f"{r.workflow_id}: {r.error}" for r in requests if r.finish and not r.finished
    ]
    completed = sum(f.status == "COMPLETED" for f in business)
    add(
        "every started workflow completed",
        f"{len(requests)} of {len(requests)} COMPLETED",
        f"{completed} of {len(requests)} COMPLETED, {len(not_started)} never started",
        not unfinished and not not_started and not unsignalled,
        not_started + unfinished + unsignalled,
    )


def check_no_retry_loop(add: Add, everything: Sequence[WorkflowFacts]) -> None:
    looping = [
        f"{f.workflow_id}: wft_failed={f.wft_failed} max_attempt={f.max_activity_attempt} "
        f"pending_attempt={f.pending_activity_attempt} pending_wft={f.pending_wft_attempt} "
        f"wft_completed={f.wft_completed}"
        for f in everything
        if f.wft_failed > MAX_WORKFLOW_TASK_FAILURES
        or f.max_activity_attempt > MAX_ACTIVITY_ATTEMPT
        or f.pending_activity_attempt > MAX_PENDING_ATTEMPT
        or f.pending_wft_attempt > MAX_PENDING_ATTEMPT
        or f.wft_completed > MAX_WORKFLOW_TASKS
    ]

    def peak(attr: str) -> int:
        return max((getattr(f, attr) for f in everything), default=0)

    add(
        "no workflow stuck in a retry loop",
        f"per workflow: task failures ≤ {MAX_WORKFLOW_TASK_FAILURES}, activity attempt ≤ "
        f"{MAX_ACTIVITY_ATTEMPT}, pending attempt ≤ {MAX_PENDING_ATTEMPT}, tasks ≤ "
        f"{MAX_WORKFLOW_TASKS}",
        f"{len(everything)} workflows; peaks: task failures {peak('wft_failed')}, activity "
        f"attempt {peak('max_activity_attempt')}, pending attempt "
        f"{peak('pending_activity_attempt')}/{peak('pending_wft_attempt')}, tasks "
        f"{peak('wft_completed')}; {sum(f.wft_timed_out for f in everything)} task "
        f"timeouts, {sum(f.wft_failed for f in everything)} task failures in all",
        not looping,
        looping,
    )


def check_local_activities(add: Add, peaks: dict[str, int]) -> None:
    stuck = [f"{wid}: attempt {n}" for wid, n in peaks.items() if n > MAX_LOCAL_ATTEMPT]
    add(
        "no local activity stuck (history markers)",
        f"every local activity marker's attempt ≤ {MAX_LOCAL_ATTEMPT}",
        f"{len(peaks)} workflows; peak local attempt {max(peaks.values(), default=0)}",
        not stuck,
        stuck,
    )
