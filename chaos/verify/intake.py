"""Checks on the mail intake: every accepted message stored once with one outcome, one ticket
per Message-ID, IMAP messages flagged (and only after their outcome committed); and checks on
the product's processes: every one running again at the end, uvicorn with all its workers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from chaos.plan_mail import MailMessage
from chaos.report import Add
from chaos.supervisor import Supervisor
from chaos.verify.snapshot import StoredTicket
from chaos.verify.tickets import channel_of


def outcome_of(row: Any) -> str | None:
    return None if row.outcome is None else str(getattr(row.outcome, "value", row.outcome))


def check_mail_stored_once(
    add: Add, mails: Sequence[MailMessage], rows: Sequence[Any], tickets: Sequence[StoredTicket]
) -> None:
    """Every accepted delivery (250 or APPEND OK) → one `inbound_mails` row of its tenant and
    Message-ID, decided `created`, with a ticket; that ticket made from mail and no other
    row's; no row the run did not send."""
    by_key = {(m.tenant_id, m.message_id): m for m in mails}
    row_count = Counter((row.tenant_id, row.message_key) for row in rows)
    row_of = {(row.tenant_id, row.message_key): row for row in rows}
    email_tickets = {row.id: row for row in tickets if channel_of(row) == "email"}
    problems: list[str] = []
    accepted = 0
    for mail in mails:
        key = (mail.tenant_id, mail.message_id)
        for delivery in mail.deliveries:
            if delivery.accepted:
                accepted += 1
            else:
                problems.append(f"{mail.message_id} by {delivery.door}: not accepted "
                                f"({delivery.error}; {delivery.answers[-3:]})")
        if not any(d.accepted for d in mail.deliveries):
            continue
        row = row_of.get(key)
        if row is None:
            problems.append(f"{mail.message_id}: accepted, never stored")
            continue
        if row_count[key] != 1:
            problems.append(f"{mail.message_id}: {row_count[key]} rows")
        outcome = outcome_of(row)
        if outcome != "created" or row.ticket_id is None:
            problems.append(f"{mail.message_id}: outcome {outcome}, ticket {row.ticket_id}")
        elif row.ticket_id not in email_tickets:
            problems.append(f"{mail.message_id}: its ticket {row.ticket_id} is no email ticket")
    problems += [f"row {row.id} {row.tenant_id} {row.message_key}: not sent by the run"
                 for row in rows if (row.tenant_id, row.message_key) not in by_key]
    outcomes = Counter(outcome_of(row) for row in rows)
    add(
        "every accepted mail stored once, with one outcome",
        f"{len(mails)} messages ({sum(len(m.deliveries) for m in mails)} deliveries, SMTP and "
        "IMAP) → one row each, `created`, with its ticket",
        f"{accepted} deliveries accepted; {len(rows)} rows, outcomes {dict(outcomes)}",
        not problems and len(rows) == len(mails),
        problems,
    )


def check_mail_tickets(
    add: Add, mails: Sequence[MailMessage], rows: Sequence[Any], tickets: Sequence[StoredTicket]
) -> None:
    """One ticket per Message-ID: as many email tickets as messages, each one row's."""
    email_tickets = [row for row in tickets if channel_of(row) == "email"]
    owners = Counter(row.ticket_id for row in rows if row.ticket_id is not None)
    shared = [f"ticket {tid}: {count} mails" for tid, count in owners.items() if count > 1]
    orphan = [f"{row.ticket_number}: made from mail, no mail row names it"
              for row in email_tickets if owners.get(row.id) is None]
    resent = sum(len(m.deliveries) > 1 for m in mails)
    add(
        "one ticket per mail (Message-ID), none doubled",
        f"{len(mails)} email tickets for {len(mails)} messages ({resent} delivered through "
        "both doors)",
        f"{len(email_tickets)} email tickets; {len(shared)} shared, {len(orphan)} without mail",
        not shared and not orphan and len(email_tickets) == len(mails),
        shared + orphan,
    )


def check_imap_flags(
    add: Add, appended: dict[str, set[str]], flagged: dict[str, set[str]], early: set[str],
    samples: int,
) -> None:
    """`appended`/`flagged`: Message-IDs per tenant; `early`: flags seen before the outcome."""
    unflagged = [f"{tenant} {key}" for tenant, keys in appended.items()
                 for key in sorted(keys - flagged.get(tenant, set()))]
    total = sum(len(keys) for keys in appended.values())
    add(
        "IMAP mail flagged, and only after its outcome committed",
        f"{total} appended messages flagged `$TicketingDone`; no flag seen before its "
        "outcome (sampled: flags read, then the database)",
        f"{total - len(unflagged)} flagged; {samples} samples, {len(early)} flags seen "
        "before their outcome",
        not unflagged and not early,
        [f"unflagged {u}" for u in unflagged] + [f"flagged before its outcome: {e}"
                                                  for e in sorted(early)],
    )


def check_processes(add: Add, processes: Sequence[Supervisor], api_workers: int,
                    api_children: int) -> None:
    down = [p.name for p in processes if not p.alive()]
    add(
        "every product process running again after the faults",
        f"{len(processes)} processes up; the API with {api_workers} uvicorn workers",
        "spawns " + ", ".join(f"{p.name} {p.spawns}" for p in processes)
        + f"; API workers {api_children}",
        not down and api_children == api_workers,
        [f"{name} down" for name in down],
    )

