"""Checks on the tickets: one per business request, numbered 1..N, in the status it leads to."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from chaos.plan import Request
from chaos.report import Add
from chaos.verify.facts import WorkflowFacts
from chaos.verify.snapshot import StoredTicket
from ticketing.temporal.schemas import TicketInfo

DONE_STATUSES = {"resolved", "closed"}


def channel_of(row: StoredTicket) -> str:
    return str(getattr(row.channel, "value", row.channel))


def open_ticket_numbers(tickets: Sequence[StoredTicket]) -> set[str]:
    return {row.ticket_number for row in tickets if row.status not in DONE_STATUSES}


def check_one_ticket_per_request(
    add: Add, n: int, requests: Sequence[Request], business: Sequence[WorkflowFacts],
    tickets: Sequence[StoredTicket],
) -> None:
    """Workflow starts and HTTP creates; `tickets`: every ticket not made from mail."""
    by_id = {r.workflow_id: r for r in requests}
    expected_keys = {r.business_key for r in requests}
    # Every chaos ticket comes from a business request, so every row has a key.
    key_counts = Counter(row.idempotency_key or "" for row in tickets)
    ticket_by_key = {row.idempotency_key: row.ticket_number for row in tickets}
    problems = [f"{key}: {count} tickets" for key, count in key_counts.items() if count > 1]
    problems += [f"{key}: no ticket" for key in sorted(expected_keys - set(key_counts))]
    problems += [f"{key}: unexpected ticket" for key in sorted(set(key_counts) - expected_keys)]
    result_by_id: dict[str, str] = {}
    for fact in business:
        if fact.status == "COMPLETED" and fact.result is None:
            problems.append(f"{fact.workflow_id}: no result ({fact.error})")
        if fact.result is not None:
            ticket = fact.result if isinstance(fact.result, TicketInfo) else fact.result.ticket
            result_by_id[fact.workflow_id] = ticket.ticket_number
            key = by_id[fact.workflow_id].business_key
            if ticket_by_key.get(key) != ticket.ticket_number:
                problems.append(
                    f"{fact.workflow_id} returned {ticket.ticket_number}, "
                    f"the ticket of {key} is {ticket_by_key.get(key)}"
                )
    # HTTP: every 201 a retry with the same Idempotency-Key got names the key's one ticket.
    http = [r for r in requests if r.door == "http"]
    for r in http:
        answered = set(r.ticket_numbers)
        if len(answered) > 1 or (answered and ticket_by_key.get(r.business_key) not in answered):
            problems.append(f"{r.workflow_id} ({r.business_key}) answered {sorted(answered)}, "
                            f"the key's ticket is {ticket_by_key.get(r.business_key)}")
        elif not answered:
            problems.append(f"{r.workflow_id}: no 201 ({r.error})")
    retried = sum(len(r.ticket_numbers) > 1 for r in http)
    duplicates = [r for r in requests if r.duplicate_of]
    same = sum(
        result_by_id.get(r.workflow_id) is not None
        and result_by_id.get(r.workflow_id) == result_by_id.get(r.duplicate_of or "")
        for r in duplicates
    )
    add(
        "exactly one ticket per business request",
        f"{n} tickets for {n} requests ({len(http)} over HTTP); {len(duplicates)} duplicate "
        "starts share their original's ticket; every HTTP answer for a key names its ticket",
        f"{len(tickets)} tickets, {len(expected_keys & set(key_counts))} requests with one; "
        f"{same}/{len(duplicates)} duplicates share it; {retried} HTTP keys answered 201 "
        "more than once",
        not problems and len(tickets) == n and same == len(duplicates),
        problems,
    )


def check_numbers(
    add: Add, n: int, tickets: Sequence[StoredTicket], counter: Sequence[Any]
) -> None:
    """No gap, no duplicate, and the counter row at N."""
    numbers = sorted(row.number for row in tickets)
    number_counts = Counter(numbers)
    doubled = sorted(number for number, count in number_counts.items() if count > 1)
    gaps = sorted(set(range(1, n + 1)) - set(numbers))
    counter_values = {name: value for name, value in counter}
    add(
        "ticket numbers are 1..N, no gap, no duplicate",
        f"TKT-000001..TKT-{n:06d}; counter = {n}",
        f"{len(set(numbers))} distinct, min {numbers[0] if numbers else '-'}, max "
        f"{numbers[-1] if numbers else '-'}, {len(gaps)} gaps, {len(doubled)} duplicates; "
        f"counter {counter_values}",
        numbers == list(range(1, n + 1))
        and list(counter_values.values()) == [n],
        [f"gap {g}" for g in gaps] + [f"duplicate {d}" for d in doubled],
    )


def check_status(add: Add, requests: Sequence[Request], tickets: Sequence[StoredTicket]) -> None:
    """Installations resolved (complete) or closed (cancel), onboardings open."""
    status_by_key = {row.idempotency_key: row.status for row in tickets}
    wrong_status = []
    for r in requests:
        want = {"complete": "resolved", "cancel": "closed"}.get(r.finish or "", "open")
        got = status_by_key.get(r.business_key)
        if got is not None and got != want:
            wrong_status.append(f"{r.workflow_id}: ticket {got}, expected {want}")
    add(
        "ticket status follows each request",
        "onboarding open; installation resolved (complete) / closed (cancel)",
        f"{len(wrong_status)} mismatches",
        not wrong_status,
        wrong_status,
    )
