"""Checks on the mail: none delivered twice or lost, refusals failed once, nothing else failed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chaos.report import Add
from chaos.smtp import is_refused


@dataclass
class Row:
    id: int
    kind: str
    recipient: str | None
    status: str
    attempts: int
    reason: str | None


def outbox_rows(notifications: Sequence[Any]) -> list[Row]:
    return [Row(n.id, str(n.kind), n.recipient, str(n.status), n.attempts, n.reason)
            for n in notifications]


def check_sent_once(
    add: Add, n: int, notifications: Sequence[Any], duplicate_keys: Sequence[Any],
    messages: Sequence[tuple[str, str, str]], drained: bool,
) -> int:
    """Returns the crash-window resends counted (for the stats)."""
    # Delivery is at least once: a worker killed (or a database lost) after the mail left but
    # before `sent_at` committed sends it again. Such a repeat is allowed only if it is visible
    # (attempts > 1 on its row) and carries the same Message-ID (receivers drop the copy); any
    # other repeat is a failure.
    sent = [row for row in notifications if row.sent_at is not None]
    # Rows refused for good end `failed` (their own check below); any other row unsent is
    # a notice lost.
    unsent = [
        row.dedupe_key for row in notifications
        if row.sent_at is None and not (row.status == "failed" and row.recipient
                                        and is_refused(row.recipient))
    ]
    # Once the outbox was seen empty, a row still queued when the worker stopped was made
    # after that (a watcher's next threshold): not yet due a delivery, counted apart.
    queued_at_stop = {row.dedupe_key for row in notifications if row.status == "queued"}
    if drained:
        unsent = [key for key in unsent if key not in queued_at_stop]
    # A message is its recipient and Message-ID: a resend renders its subject again, from
    # the ticket as it is by then, but keeps the Message-ID receivers drop copies by.
    deliveries = Counter((to, message_id) for to, _subject, message_id in messages)
    retried_ids = tuple(f"<notification-{row.id}." for row in sent if row.attempts > 1)
    sent_ids = tuple(f"<notification-{row.id}." for row in sent)
    repeats = [(key, count) for key, count in deliveries.items() if count > 1]
    crash_window = [f"{to} {message_id} x{count} (attempts>1, same Message-ID)"
                    for (to, message_id), count in repeats
                    if message_id.startswith(retried_ids)]
    delivered_twice = [f"{to} {message_id} x{count}"
                       for (to, message_id), count in repeats
                       if not message_id.startswith(retried_ids)]
    # Mail that left for a row the outbox does not hold as sent: bookkeeping lost.
    delivered_unsent = [f"delivered but not sent: {to} {message_id}"
                        for to, message_id in deliveries
                        if not message_id.startswith(sent_ids)]
    distinct_delivered = len(deliveries)
    created = sum(row.kind == "ticket_created" for row in notifications)
    add(
        "no notification sent twice (outbox + SMTP sink)",
        f"1 outbox row per dedupe key ({n} ticket_created); each sent; no repeat "
        "except a visible crash-window resend with the same Message-ID",
        f"{len(notifications)} rows ({created} ticket_created), {len(duplicate_keys)} keys "
        f"doubled; {len(sent)} sent, {len(unsent)} unsent, {len(queued_at_stop)} queued "
        f"when the worker stopped; {distinct_delivered} distinct "
        f"delivered, {len(delivered_twice)} repeated silently, {len(crash_window)} "
        "crash-window resends",
        not duplicate_keys and not delivered_twice and not unsent and not delivered_unsent
        and created == n and distinct_delivered == len(sent),
        [f"doubled key {k}" for k, _ in duplicate_keys] + delivered_twice + crash_window
        + delivered_unsent + [f"unsent {k}" for k in unsent],
    )
    return len(crash_window)


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
