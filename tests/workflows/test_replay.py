"""Saved histories replay against today's workflows: a change breaking running workflows fails.

Record new ones with `TICKETING_RECORD_HISTORIES=1 python -m pytest
tests/workflows/test_end_to_end.py tests/workflows/test_escalation.py` and commit them next to
the old ones (keep the old ones: they are what is still running in production).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows import ALL_WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_every_workflow_has_a_saved_history() -> None:
    names = {path.stem.split("_")[0] for path in HISTORIES}
    assert {"onboarding", "installation", "escalation", "outage"} <= names


def recorded_workflow_id(path: Path) -> str:
    """The id the run had: the watcher checks its id names the ticket it watches. Histories
    from the time-skipping server omit it; a watcher's was always `escalation-<number>`."""
    started = json.loads(path.read_text())["events"][0]["workflowExecutionStartedEventAttributes"]
    if "workflowId" in started:
        return str(started["workflowId"])
    if started["workflowType"]["name"] == "EscalationWorkflow":
        payload = started["input"]["payloads"][0]["data"]
        return f"escalation-{json.loads(base64.b64decode(payload))['ticket_number']}"
    return path.stem


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(recorded_workflow_id(path), path.read_text())
    replayer = Replayer(workflows=ALL_WORKFLOWS, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
