"""The chaos run's mail and SLA checks: thresholds, refused recipients, failed rows, watchers."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.api.history.v1 import HistoryEvent

from chaos.smtp import is_refused
from workflows.common import DB_RETRY

# A local activity retrying shows in no describe; its markers carry its attempt. A database
# outage may take a call to its retry bound, never past it.
MAX_LOCAL_ATTEMPT = DB_RETRY.maximum_attempts
LOCAL_ACTIVITY_MARKER = "core_local_activity"

Add = Callable[[str, str, str, bool, list[str]], None]


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


@dataclass
class Breach:
    ticket_id: uuid.UUID
    kind: str
    escalation_level: int
    recorded_at: datetime


@dataclass
class Row:
    id: int
    kind: str
    recipient: str | None
    status: str
    attempts: int
    reason: str | None


def check_thresholds(
    add: Add, breaches: Sequence[Breach], fault_windows: Sequence[tuple[float, float]]
) -> None:
    keys = Counter((b.ticket_id, b.kind, b.escalation_level) for b in breaches)
    twice = [f"{t} {kind} L{level} x{n}" for (t, kind, level), n in keys.items() if n > 1]
    add(
        "each SLA threshold recorded once",
        "one row per ticket, threshold and level",
        f"{len(breaches)} thresholds on {len({b.ticket_id for b in breaches})} tickets; "
        f"{len(twice)} recorded twice",
        not twice,
        twice,
    )
    during = [
        b
        for b in breaches
        if any(start <= b.recorded_at.timestamp() <= end for start, end in fault_windows)
    ]
    kinds = Counter("warning" if "warning" in b.kind else "breach" for b in during)
    escalated = sum(b.escalation_level > 1 for b in breaches)
    add(
        "thresholds recorded during the faults",
        "warnings and breaches recorded while a fault is on; escalations fire",
        f"{len(during)} during faults ({kinds['warning']} warnings, {kinds['breach']} "
        f"breaches); {escalated} thresholds at level 2+ in all",
        bool(during) and escalated > 0,
        [f"{b.kind} L{b.escalation_level} at {b.recorded_at:%H:%M:%S}" for b in during[:10]],
    )


def check_refused(add: Add, rows: Sequence[Row], refusals: Counter[str]) -> None:
    refused_rows = [row for row in rows if row.recipient and is_refused(row.recipient)]
    not_failed = [f"{r.id} {r.recipient} {r.status}" for r in refused_rows if r.status != "failed"]
    tries, rows_to = Counter[str](), Counter[str]()
    for row in refused_rows:
        tries[(row.recipient or "").lower()] += row.attempts
        rows_to[(row.recipient or "").lower()] += 1
    # Each row is refused once. More refusals than rows is a refused row tried again: allowed
    # only as a counted attempt (a worker killed before `failed` committed); more refusals
    # than attempts would be a retry the outbox does not show. An attempt that met the outage
    # before the refusal is a transient retry, also counted in attempts.
    hidden = [
        f"{a}: {refusals[a]} refusals, {tries[a]} attempts over {rows_to[a]} rows"
        for a in refusals | rows_to
        if refusals[a] > tries[a] or refusals[a] < rows_to[a]
    ]
    repeated = sum(refusals.values()) - len(refused_rows)
    retried = [
        f"{r.id} {r.recipient} attempts={r.attempts}" for r in refused_rows if r.attempts > 1
    ]
    add(
        "refused recipients: failed, never retried",
        "every row to a 550 address `failed`, refused once (a repeat only as a counted "
        "attempt after a worker kill)",
        f"{len(refused_rows)} rows to {len({r.recipient for r in refused_rows})} refused "
        f"addresses; server refused {sum(refusals.values())} times ({repeated} repeats); "
        f"{len(not_failed)} not failed; {len(retried)} rows with attempts > 1",
        not not_failed and not hidden,
        not_failed + hidden + retried,
    )


def check_failed_rows(add: Add, rows: Sequence[Row]) -> None:
    failed = [row for row in rows if row.status == "failed"]
    unexpected = [
        f"{r.id} {r.kind} {r.recipient}: {r.reason}"
        for r in failed
        if not (r.recipient and is_refused(r.recipient))
    ]
    reasons = Counter((r.reason or "")[:60] for r in failed)
    add(
        "failed rows are the refused ones",
        "`failed` only for permanent refusals; the outage and slowness end `sent`",
        f"{len(failed)} failed: "
        + "; ".join(f"{n}x {reason}" for reason, n in reasons.most_common(3)),
        not unexpected,
        unexpected,
    )


def check_watchers_target(
    add: Add, inputs: dict[str, dict[str, Any] | None], ticket_ids: dict[str, uuid.UUID]
) -> None:
    """`inputs`: each open ticket's watcher id → its run's input."""
    wrong = []
    for watcher_id, data in inputs.items():
        number = watcher_id.removeprefix("escalation-")
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


def check_local_activities(add: Add, peaks: dict[str, int]) -> None:
    stuck = [f"{wid}: attempt {n}" for wid, n in peaks.items() if n > MAX_LOCAL_ATTEMPT]
    add(
        "no local activity stuck (history markers)",
        f"every local activity marker's attempt ≤ {MAX_LOCAL_ATTEMPT}",
        f"{len(peaks)} workflows; peak local attempt {max(peaks.values(), default=0)}",
        not stuck,
        stuck,
    )
