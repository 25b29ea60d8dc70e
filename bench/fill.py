"""Fill a database with realistic tickets quickly, to try the product (and bench it) at size.

Run: python -m bench.fill --tickets 1000000 [--tenants 50] [--largest 200000] [--days 730]
     [--database-url URL] [--seed 1]

Without --database-url it fills the configured database (TICKETING_MIGRATE_DATABASE_URL, else
TICKETING_DATABASE_URL, else the embedded PostgreSQL under TICKETING_HOME), migrating it first.
It must connect as the tables' owner: COPY into a table with row-level security is refused to
a role the policies hold, and the rows it writes are then seen through the same policies as
any other (each row carries its tenant).

`--tenants` tenants (`isp-01`, …); the first holds `--largest` tickets and the rest share the
remainder. Each tenant gets customers (one per four tickets, with an email), 20 agents and its
tickets, spread over the last `--days` days, numbered in time order after the tickets already
there: each batch takes its numbers under the counter's row lock, in the same transaction that
moves the counter, so numbering stays gap-free and a ticket created afterwards (or while it
runs, between batches) takes the next number. ISP-like titles (a Zipf-like mix: "No internet
since this morning" is common, "Static IP request" rare, plus street and device words that are
rare), statuses by age (the newest tickets mostly unsolved, the old ones resolved or closed),
messages (the description as the customer's first message, replies), events (created, replied,
status changed, breached) and SLA breach rows for the breached ones.

Unsolved tickets made here have no watcher yet: the reconciler starts one for each (in
batches) the first time a worker runs against this database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.fill_data import (
    AGENTS_PER_TENANT,
    CHANNELS,
    DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    PRIORITIES,
    TEAMS,
    Title,
    pick_title,
)

BATCH = 20_000
TICKET_COLUMNS = (
    "id", "number", "tenant_id", "customer_id", "title", "description", "origin_type",
    "target_type", "priority", "ticket_type", "status", "channel", "assigned_team",
    "assigned_to", "affected_services", "device_serial_numbers", "requester_email", "context",
    "metadata", "first_response_due", "sla_due_date", "resolution_window_start", "sla_pauses",
    "sla_breached", "escalation_level", "first_response_at", "resolved_at", "closed_at",
    "resolution_time_minutes", "escalated_at", "created_at", "updated_at", "pending_since",
)
MESSAGE_COLUMNS = ("ticket_id", "author_actor", "author", "body", "is_internal", "created_at")
EVENT_COLUMNS = ("ticket_id", "kind", "actor", "data", "created_at")
BREACH_COLUMNS = ("ticket_id", "kind", "window_start", "escalation_level", "due_at",
                  "recorded_at")
FIRST_RESPONSE_HOURS = {"urgent": 1, "high": 4, "normal": 8, "low": 24}
RESOLUTION_HOURS = {"urgent": 8, "high": 24, "normal": 72, "low": 120}
UNSOLVED = ("open", "in_progress", "pending")


@dataclass(frozen=True)
class TenantPlan:
    id: str
    tickets: int
    customers: int


@dataclass
class FillReport:
    tickets: int = 0
    messages: int = 0
    events: int = 0
    breaches: int = 0
    customers: int = 0
    first_number: int = 0
    last_number: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def plan_tenants(tickets: int, tenants: int, largest: int) -> list[TenantPlan]:
    """The first tenant holds `largest` tickets (at most all), the others share the rest."""
    if tenants < 1 or tickets < 1:
        raise ValueError("--tickets and --tenants must be at least 1")
    largest = min(largest, tickets) if tenants > 1 else tickets
    counts = [largest]
    rest = tickets - largest
    for index in range(1, tenants):
        share = rest // (tenants - 1) + (1 if index <= rest % (tenants - 1) else 0)
        counts.append(share)
    return [TenantPlan(f"isp-{i + 1:02d}", n, max(1, n // 4)) for i, n in enumerate(counts)]


def _dsn(url: str) -> str:
    """asyncpg's form of a database URL (SQLAlchemy's `postgresql+asyncpg://` accepted)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def sqlalchemy_url(url: str) -> str:
    """SQLAlchemy's form of a database URL (the migrations run through it)."""
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


async def _require_owner(connection: asyncpg.Connection) -> None:
    bypasses = await connection.fetchval(
        "SELECT r.rolsuper OR r.rolbypassrls OR pg_has_role(current_user, c.relowner, 'USAGE')"
        " FROM pg_roles r, pg_class c WHERE r.rolname = current_user"
        " AND c.oid = 'tickets'::regclass"
    )
    if not bypasses:
        raise SystemExit(
            "error: database-url: connect as the tables' owner (the migration role): COPY into "
            "tables with row-level security is refused to the app role"
        )


async def _seed_tenants(
    connection: asyncpg.Connection, plans: list[TenantPlan], rng: random.Random
) -> dict[str, list[tuple[str, str]]]:
    """Tenants, agents and customers; per tenant its customers' (id, email)."""
    customers: dict[str, list[tuple[str, str]]] = {}
    rows = []
    for plan in plans:
        await connection.execute(
            "INSERT INTO tenants (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
            plan.id, f"ISP {plan.id[4:]}",
        )
        await connection.executemany(
            "INSERT INTO agents (tenant_id, email, name, available) VALUES ($1, $2, $3, true)"
            " ON CONFLICT DO NOTHING",
            [(plan.id, f"agent{a:02d}@{plan.id}.example", f"Agent {a:02d}")
             for a in range(AGENTS_PER_TENANT)],
        )
        taken = {r["id"] for r in await connection.fetch(
            "SELECT id FROM customers WHERE tenant_id = $1", plan.id)}
        mine = []
        for c in range(1, plan.customers + 1):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            cid = str(100000 + c)
            email = f"{first.lower()}.{last.lower()}{c}@{rng.choice(DOMAINS)}"
            mine.append((cid, email))
            if cid not in taken:
                rows.append((cid, plan.id, email, f"{first} {last}"))
        customers[plan.id] = mine
    await connection.copy_records_to_table(
        "customers", records=rows, columns=("id", "tenant_id", "email", "name"))
    return customers


@dataclass
class _Batch:
    tickets: list[tuple[Any, ...]] = field(default_factory=list)
    messages: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    breaches: list[tuple[Any, ...]] = field(default_factory=list)


def _status(age_share: float, rng: random.Random) -> str:
    """Newest tickets mostly unsolved, older ones done, a few old ones still open."""
    if age_share < 0.02:
        return rng.choices(("open", "in_progress", "pending", "resolved"), (45, 25, 15, 15))[0]
    if age_share < 0.05:
        return rng.choices(("open", "pending", "resolved", "closed"), (5, 5, 60, 30))[0]
    return rng.choices(("open", "pending", "resolved", "closed"), (0.4, 0.2, 9.4, 90))[0]


def _ticket(
    batch: _Batch, number: int, tenant: str, customer: tuple[str, str], created: datetime,
    age_share: float, title: Title, rng: random.Random, now: datetime,
) -> None:
    tid = uuid.uuid4()
    priority = rng.choices(PRIORITIES, (20, 55, 18, 7))[0]
    status = _status(age_share, rng)
    channel = rng.choices(CHANNELS, (45, 25, 10, 10, 10))[0]
    agent = f"agent{rng.randrange(AGENTS_PER_TENANT):02d}@{tenant}.example"
    fr_due = created + timedelta(hours=FIRST_RESPONSE_HOURS[priority])
    res_due = created + timedelta(hours=RESOLUTION_HOURS[priority])
    answered = status != "open" or rng.random() < 0.3
    # About one in eight answers and resolutions late: the breached share of a busy desk.
    fr_minutes = rng.randint(5, FIRST_RESPONSE_HOURS[priority] * 64)
    first_response = created + timedelta(minutes=fr_minutes) if answered else None
    if first_response and first_response > now:
        first_response = now
    done = status in ("resolved", "closed")
    res_minutes = rng.randint(30, RESOLUTION_HOURS[priority] * 64)
    resolved = created + timedelta(minutes=res_minutes) if done else None
    if resolved and first_response and resolved < first_response:
        resolved = first_response
    if resolved and resolved > now:
        resolved = now
    closed = resolved + timedelta(days=3) if status == "closed" and resolved else None
    breached_kinds = []
    if first_response and first_response > fr_due or not first_response and now > fr_due:
        breached_kinds.append(("first_response", fr_due))
    if (resolved or now) > res_due:
        breached_kinds.append(("resolution", res_due))
    level = 1
    if any(kind == "resolution" for kind, _ in breached_kinds):
        level = rng.choices((1, 2, 3), (80, 17, 3))[0]
    updated = closed or resolved or first_response or created
    email = customer[1]
    batch.tickets.append((
        tid, number, tenant, customer[0], title.text, title.description, "customer", "tenant",
        priority, title.ticket_type, status, channel, TEAMS[title.ticket_type],
        agent if answered or rng.random() < 0.2 else None, "[]", "[]",
        email if channel == "email" else None, "{}", "{}", fr_due, res_due, created, "[]",
        bool(breached_kinds), level, first_response, resolved, closed,
        int((resolved - created).total_seconds() // 60) if resolved else None,
        res_due if level > 1 else None, created, updated,
        updated if status == "pending" else None,
    ))
    batch.messages.append((tid, "customer", email, title.description, False, created))
    batch.events.append(
        (tid, "created", email, json.dumps({"channel": channel, "priority": priority}), created))
    if first_response:
        batch.messages.append((tid, "tenant", agent, "Thanks, we are looking into it.", False,
                               first_response))
        batch.events.append((tid, "replied", agent, '{"author_actor": "tenant"}',
                             first_response))
        if rng.random() < 0.4:
            later = first_response + timedelta(minutes=rng.randint(10, 900))
            batch.messages.append((tid, "customer", email, "Still the same here.", False, later))
            batch.events.append((tid, "replied", email, '{"author_actor": "customer"}', later))
    if status != "open":
        moved = resolved or first_response or created
        batch.events.append((tid, "status_changed", agent,
                             json.dumps({"from": "open", "to": "resolved" if done else status}),
                             moved))
        if closed:
            batch.events.append((tid, "status_changed", None,
                                 '{"from": "resolved", "to": "closed"}', closed))
    for kind, due in breached_kinds:
        recorded = due + timedelta(seconds=rng.randint(1, 30))
        batch.breaches.append((tid, kind, created, 1, due, recorded))
        batch.events.append((tid, "breached", None, json.dumps({"kind": kind}), recorded))


async def _copy_batch(connection: asyncpg.Connection, batch: _Batch, report: FillReport) -> None:
    await connection.copy_records_to_table("tickets", records=batch.tickets,
                                           columns=TICKET_COLUMNS)
    await connection.copy_records_to_table("ticket_messages", records=batch.messages,
                                           columns=MESSAGE_COLUMNS)
    await connection.copy_records_to_table("ticket_events", records=batch.events,
                                           columns=EVENT_COLUMNS)
    await connection.copy_records_to_table("sla_breaches", records=batch.breaches,
                                           columns=BREACH_COLUMNS)
    report.tickets += len(batch.tickets)
    report.messages += len(batch.messages)
    report.events += len(batch.events)
    report.breaches += len(batch.breaches)


async def fill(
    url: str, *, tickets: int, tenants: int = 50, largest: int = 200_000, days: int = 730,
    seed: int = 1, analyze: bool = True, progress: bool = False,
) -> FillReport:
    """Fill the (migrated) database at `url`, as the tables' owner; see the module's doc."""
    rng = random.Random(seed)
    plans = plan_tenants(tickets, tenants, largest)
    report = FillReport()
    started = time.perf_counter()
    connection = await asyncpg.connect(_dsn(url))
    try:
        await _require_owner(connection)
        async with connection.transaction():
            customers = await _seed_tenants(connection, plans, rng)
        report.customers = sum(len(c) for c in customers.values())
        report.seconds["tenants_and_customers"] = time.perf_counter() - started
        # One ticket after another in time order: which tenant each belongs to, by weight.
        owners = [p.id for p in plans for _ in range(p.tickets)]
        rng.shuffle(owners)
        now = datetime.now(UTC)
        span = timedelta(days=days)
        copy_started = time.perf_counter()
        for offset in range(0, tickets, BATCH):
            count = min(BATCH, tickets - offset)
            batch = _Batch()
            async with connection.transaction():
                # The counter's row lock, held until this batch commits: no number is taken
                # twice or skipped, whoever else creates tickets meanwhile.
                last = await connection.fetchval(
                    "SELECT value FROM ticket_counters WHERE name = 'ticket' FOR UPDATE")
                if offset == 0:
                    report.first_number = last + 1
                for i in range(count):
                    index = offset + i
                    share = 1 - index / tickets  # 0 = the newest
                    created = now - span * share
                    tenant = owners[index]
                    _ticket(batch, last + 1 + i, tenant, rng.choice(customers[tenant]), created,
                            share, pick_title(rng), rng, now)
                await _copy_batch(connection, batch, report)
                await connection.execute(
                    "UPDATE ticket_counters SET value = $1 WHERE name = 'ticket'", last + count)
                report.last_number = last + count
            if progress:
                rate = report.tickets / (time.perf_counter() - copy_started)
                print(f"  {report.tickets:>9,} tickets ({rate:,.0f}/s)", flush=True)
        report.seconds["copy"] = time.perf_counter() - copy_started
        if analyze:
            vacuum_started = time.perf_counter()
            # As autovacuum leaves a running deployment: statistics for the planner and a
            # visibility map for index-only scans.
            for table in ("customers", "tickets", "ticket_messages", "ticket_events",
                          "sla_breaches"):
                await connection.execute(f"VACUUM ANALYZE {table}")
            report.seconds["vacuum_analyze"] = time.perf_counter() - vacuum_started
    finally:
        await connection.close()
    report.seconds["total"] = time.perf_counter() - started
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--largest", type=int, default=200_000,
                        help="tickets of the first (largest) tenant")
    parser.add_argument("--days", type=int, default=730, help="spread over this many days")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=None,
                        help="the tables' owner's URL (default: the configured database)")
    args = parser.parse_args()
    from ticketing.db.engine import migrate, resolve_migrate_url
    from ticketing.runtime.settings import Settings

    url = args.database_url or resolve_migrate_url(Settings())
    migrate(sqlalchemy_url(url))
    report = asyncio.run(fill(url, tickets=args.tickets, tenants=args.tenants,
                              largest=args.largest, days=args.days, seed=args.seed,
                              progress=True))
    print(f"filled {report.tickets:,} tickets (TKT numbers {report.first_number}.."
          f"{report.last_number}), {report.customers:,} customers, {report.messages:,} "
          f"messages, {report.events:,} events, {report.breaches:,} SLA breaches in "
          f"{report.seconds['total']:.0f} s ({report.seconds})")


if __name__ == "__main__":
    main()
