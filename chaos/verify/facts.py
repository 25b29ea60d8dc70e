"""What the verifier reads from Temporal about one workflow: its describe and its history."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowExecutionStatus

from chaos.load import RPC_TIMEOUT, Load

LOCAL_ACTIVITY_MARKER = "core_local_activity"


@dataclass
class WorkflowFacts:
    """One workflow as its describe and history show it: state, attempts, input and result."""

    workflow_id: str
    status: str
    wft_failed: int = 0
    wft_timed_out: int = 0
    wft_completed: int = 0
    max_activity_attempt: int = 0
    pending_activity_attempt: int = 0
    pending_wft_attempt: int = 0
    max_local_attempt: int = 0
    input: dict[str, Any] | None = None
    result: Any = None
    error: str | None = None


class WorkflowReader:
    """Reads workflows through the load's client, retried like its calls until the deadline."""

    def __init__(self, load: Load) -> None:
        self.load = load
        self.client = load.client

    async def facts(self, workflow_id: str, result_type: type | None) -> WorkflowFacts:
        handle = self.client.get_workflow_handle(workflow_id, result_type=result_type)
        deadline = self.load.clock.deadline
        try:
            description = await self.load.retrying(
                "describe", lambda: handle.describe(rpc_timeout=RPC_TIMEOUT), deadline
            )
        except Exception as error:  # noqa: BLE001 - e.g. never started: reported
            return WorkflowFacts(workflow_id, "MISSING", error=repr(error)[:200])
        status = description.status.name if description.status else "UNKNOWN"
        facts = WorkflowFacts(workflow_id, status)
        raw = description.raw_description
        facts.pending_activity_attempt = max(
            (pending.attempt for pending in raw.pending_activities), default=0
        )
        if raw.HasField("pending_workflow_task"):
            facts.pending_wft_attempt = raw.pending_workflow_task.attempt
        history = await self.load.retrying(
            "history", lambda: handle.fetch_history(rpc_timeout=RPC_TIMEOUT), deadline
        )
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
                with contextlib.suppress(ValueError):
                    facts.input = started_input(event)
            elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
                facts.max_local_attempt = max(
                    facts.max_local_attempt, local_activity_attempt(event)
                )
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
                facts.error = failure_text(event.workflow_execution_failed_event_attributes.failure)
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                facts.wft_failed += 1
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                facts.wft_timed_out += 1
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                facts.wft_completed += 1
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                facts.max_activity_attempt = max(
                    facts.max_activity_attempt, event.activity_task_started_event_attributes.attempt
                )
        if result_type is not None and description.status == WorkflowExecutionStatus.COMPLETED:
            try:
                facts.result = await self.load.retrying(
                    "result",
                    lambda: handle.result(rpc_timeout=RPC_TIMEOUT),
                    deadline,
                )
            except Exception as error:  # noqa: BLE001
                facts.error = repr(error)[:200]
        return facts

    async def history_evidence(self, workflow_id: str) -> list[str]:
        """Signals received and activities run (attempt, last failure) by one workflow."""
        handle = self.client.get_workflow_handle(workflow_id)
        try:
            history = await self.load.retrying(
                "history", lambda: handle.fetch_history(rpc_timeout=RPC_TIMEOUT),
                self.load.clock.deadline,
            )
        except Exception as error:  # noqa: BLE001
            return [f"{workflow_id}: no history ({error!r})"]
        lines: list[str] = []
        scheduled: dict[int, str] = {}
        for event in history.events:
            at = event.event_time.ToDatetime().strftime("%H:%M:%S.%f")[:-3]
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
                name = event.workflow_execution_signaled_event_attributes.signal_name
                lines.append(f"{workflow_id} {at} signal {name}")
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                scheduled[event.event_id] = (
                    event.activity_task_scheduled_event_attributes.activity_type.name
                )
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                attributes = event.activity_task_started_event_attributes
                name = scheduled.get(attributes.scheduled_event_id, "?")
                failure = attributes.last_failure.message[:160]
                lines.append(
                    f"{workflow_id} {at} activity {name} attempt {attributes.attempt}"
                    + (f" after failure: {failure}" if failure else "")
                )
        return lines

    async def gather(self, items: list[tuple[str, type | None]]) -> list[WorkflowFacts]:
        slots = asyncio.Semaphore(16)

        async def one(workflow_id: str, result_type: type | None) -> WorkflowFacts:
            async with slots:
                return await self.facts(workflow_id, result_type)

        return list(await asyncio.gather(*(one(wid, rtype) for wid, rtype in items)))


def failure_text(failure: Any) -> str:
    """A failure and its causes on one line: why a workflow failed, for the report."""
    parts: list[str] = []
    while failure is not None and failure.message and len(parts) < 4:
        kind = failure.application_failure_info.type if failure.HasField(
            "application_failure_info") else ""
        parts.append(f"{kind}: {failure.message}"[:200] if kind else failure.message[:200])
        failure = failure.cause if failure.HasField("cause") else None
    return " <- ".join(parts)


def local_activity_attempt(event: HistoryEvent) -> int:
    """The attempt a local-activity marker records (0 for any other marker)."""
    attributes = event.marker_recorded_event_attributes
    if attributes.marker_name != LOCAL_ACTIVITY_MARKER or "data" not in attributes.details:
        return 0
    payloads = attributes.details["data"].payloads
    try:
        data = json.loads(payloads[0].data) if payloads else {}
    except ValueError:
        return 0
    attempt = data.get("attempt", 0) if isinstance(data, dict) else 0
    return attempt if isinstance(attempt, int) else 0


def started_input(event: HistoryEvent) -> dict[str, Any] | None:
    """A run's first argument from its started event, if plain JSON."""
    payloads = event.workflow_execution_started_event_attributes.input.payloads
    if not payloads or payloads[0].metadata.get("encoding") != b"json/plain":
        return None
    value = json.loads(payloads[0].data)
    return value if isinstance(value, dict) else None
