"""Checks on the SLA watchers: one running per open ticket, watching that ticket, none failed."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

from chaos.report import Add
from chaos.verify.facts import WorkflowFacts
from chaos.verify.snapshot import StoredTicket
from ticketing.temporal import names


def watcher_of(ticket_number: str) -> str:
    return names.escalation_workflow_id(ticket_number)


def check_watchers_running(
    add: Add, open_numbers: set[str], running: Sequence[str], watchers: Sequence[WorkflowFacts]
) -> list[str]:
    """Returns the watchers still running for a done ticket, for the evidence to be gathered."""
    running_counts = Counter(running)
    expected_ids = {watcher_of(number) for number in open_numbers}
    missing = sorted(expected_ids - set(running_counts))
    extra = sorted(set(running_counts) - expected_ids)
    twice = sorted(wid for wid, count in running_counts.items() if count > 1)
    described_missing = [
        f.workflow_id for f in watchers
        if f.workflow_id in expected_ids and f.status != "RUNNING"
    ]
    add(
        "every open ticket has exactly one running EscalationWorkflow",
        f"{len(open_numbers)} open tickets ↔ {len(open_numbers)} running watchers",
        f"{len(running)} running ({len(running_counts)} ids); {len(missing)} missing, "
        f"{len(twice)} twice, {len(extra)} on resolved/closed tickets",
        not missing and not twice and not described_missing and not extra,
        [f"missing {m}" for m in missing + described_missing]
        + [f"twice {t}" for t in twice]
        + [f"still running for a done ticket {e}" for e in extra],
    )
    return extra


def check_watchers_healthy(
    add: Add, tickets: Sequence[StoredTicket], watchers: Sequence[WorkflowFacts]
) -> None:
    failed_watchers = [
        f"{f.workflow_id}: {f.status}" for f in watchers
        if f.status not in ("RUNNING", "COMPLETED")
    ]
    add(
        "no watcher failed, terminated or missing",
        f"{len(tickets)} watchers RUNNING (open) or COMPLETED (done)",
        f"{len(failed_watchers)} in another state",
        not failed_watchers,
        failed_watchers,
    )


def check_watchers_target(
    add: Add, inputs: dict[str, dict[str, Any] | None], ticket_ids: dict[str, uuid.UUID]
) -> None:
    """`inputs`: each open ticket's watcher id → its run's input."""
    wrong = []
    for watcher_id, data in inputs.items():
        number = watcher_id.removeprefix(names.WATCHER_PREFIX)
        if data is None:
            wrong.append(f"{watcher_id}: input unreadable")
        elif data.get("ticket_number") != number or data.get("ticket_id") != str(
            ticket_ids.get(number)
        ):
            wrong.append(
                f"{watcher_id}: watches {data.get('ticket_number')} {data.get('ticket_id')}"
            )
    add(
        "every open ticket's watcher watches that ticket",
        "escalation-<n>'s input names ticket n and its id",
        f"{len(inputs)} watchers read, {len(wrong)} watch another ticket",
        not wrong,
        wrong,
    )
