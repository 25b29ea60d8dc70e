"""The reconciler's pass after the faults: the backstop the watcher checks rely on.

The API and the mail intake may start a new ticket's watcher after answering
(`TICKETING_API_DEFER_WATCHERS`); a process killed in between, or a start given up while
Temporal was away, leaves that ticket to the reconciler. Its documented guarantee is a pass
every `TICKETING_RECONCILE_EVERY` seconds that starts the watcher of every open ticket
committed before the pass began. So the watcher checks are only fair once one pass that began
after the last fault (and after the last create) has completed, and before the snapshot stops
the workers that run it; without the wait the verdict depended on where the schedule's 20-s
tick fell against the end of the faults (a pass delayed by a killed worker's heartbeat timeout
was still pending when the workers were stopped).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from chaos.load import RPC_TIMEOUT, Load
from chaos.report import Add
from ticketing.temporal import names

# The schedule names each run `<schedule id>-<nominal time, RFC 3339 to the second>`.
_NOMINAL_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class ReconcilerPass:
    workflow_id: str
    scheduled_at: datetime
    closed_at: datetime | None


def scheduled_at(workflow_id: str, start_time: datetime) -> datetime:
    """The nominal time the schedule gave the run (kept by its continue-as-new runs, unlike
    their start time); the start time when the id carries none (a run started by hand)."""
    with contextlib.suppress(ValueError):
        return datetime.strptime(workflow_id[-20:], _NOMINAL_FORMAT).replace(tzinfo=UTC)
    return start_time


async def completed_passes(load: Load, since: datetime) -> list[ReconcilerPass]:
    query = (
        f"WorkflowType = '{names.RECONCILER_WORKFLOW}' AND ExecutionStatus = 'Completed' "
        f"AND StartTime >= '{since.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}'"
    )
    found = []
    async for execution in load.client.list_workflows(query, rpc_timeout=RPC_TIMEOUT):
        at = scheduled_at(execution.id, execution.start_time)
        if at >= since:
            found.append(ReconcilerPass(execution.id, at, execution.close_time))
    return sorted(found, key=lambda p: p.scheduled_at)


async def wait_reconciler_pass(
    load: Load, since: datetime, timeout: float
) -> ReconcilerPass | None:
    """Until a reconciler run scheduled at or after `since` has completed; None at timeout."""
    end = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):  # Temporal busy: asked again, reported if it lasts
            passes = await completed_passes(load, since)
            if passes:
                return passes[0]
        if time.monotonic() > end:
            return None
        await asyncio.sleep(1.0)


def check_reconciler_pass(
    add: Add, since: datetime, found: ReconcilerPass | None, waited: float
) -> None:
    since_text = since.astimezone(UTC).strftime("%H:%M:%S")
    observed = (
        f"{found.workflow_id} (scheduled {found.scheduled_at:%H:%M:%S}) completed; "
        f"waited {waited:.0f} s"
        if found is not None
        else f"none completed within {waited:.0f} s"
    )
    add(
        "the reconciler completed a pass begun after the faults",
        f"a ReconcilerWorkflow scheduled after {since_text} (faults and load over) completed "
        "before the workers stopped",
        observed,
        found is not None,
        [],
    )
