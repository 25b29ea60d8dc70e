"""Benchmark 1: TicketService.create_ticket against a raw asyncpg insert on the same PostgreSQL.

Run: python -m bench.create_path [--seconds 5] [--database-url OWNER_URL --app-database-url URL]
Every figure is a ratio against the raw insert measured in the same run (machines are noisy).
The service runs as the app does: the app role, held by row-level security, a tenant's scope.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text

from ticketing.auth.principal import Principal
from ticketing.db.engine import make_engine, make_sessionmaker, migrate_async
from ticketing.runtime.logging import configure_logging
from ticketing.runtime.settings import Settings
from ticketing.tenants.service import TenantService
from ticketing.tickets.service import TicketService

RESULTS = Path(__file__).parent / "results"
PLATFORM = Principal.platform(name="bench")
TENANT = Principal.integration("bench", name="bench")
CONCURRENCY = (1, 8, 32)

RAW_TABLE = """
CREATE TABLE IF NOT EXISTS bench_raw_tickets (
    id uuid PRIMARY KEY, tenant_id text NOT NULL, customer_id text NOT NULL, title text NOT NULL,
    description text NOT NULL, priority text NOT NULL, status text NOT NULL,
    idempotency_key text, context jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())
"""
RAW_INSERT = """
INSERT INTO bench_raw_tickets (id, tenant_id, customer_id, title, description, priority, status,
                               idempotency_key, context)
VALUES ($1, 'bench', '1', 'No internet', 'Router blinks red', 'normal', 'open', $2,
        '{"assigned_team": "support"}'::jsonb)
"""

# The reference the create path is measured against: the five rows of a real ticket (counter,
# ticket, first message, `created` event, outbox row) written by one statement, as the product
# wrote them before its create was split into a context read and an insert. Kept here, fixed,
# so ratios stay comparable across releases (changed once: migration 0002 dropped the stored
# ticket_number column the statement used to fill).
FIVE_ROWS = """
WITH counter AS (
    UPDATE ticket_counters SET value = value + 1 WHERE name = 'ticket' RETURNING value
), ticket AS (
    INSERT INTO tickets (
        id, number, tenant_id, customer_id, title, description,
        origin_type, target_type, priority, ticket_type, status, channel, assigned_team,
        service_address, affected_services, device_serial_numbers, requester_email,
        idempotency_key, context, metadata, first_response_due, sla_due_date,
        resolution_window_start, sla_pauses, sla_breached, escalation_level,
        created_at, updated_at)
    SELECT $1, value, $2, $3, 'No internet', 'Router blinks red', 'customer', 'tenant', 'normal',
        'general_inquiry', 'open', 'api', 'support', NULL, '[]'::jsonb, '[]'::jsonb, NULL, $4,
        '{"assigned_team": "support"}'::jsonb, '{}'::jsonb, $5, $5, $5, '[]'::jsonb, false, 1,
        $5, $5
    FROM counter
    ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
    RETURNING *
), message AS (
    INSERT INTO ticket_messages (ticket_id, author_actor, author, body, is_internal, created_at)
    SELECT id, 'customer', '1', description, false, $5 FROM ticket
), event AS (
    INSERT INTO ticket_events (ticket_id, kind, actor, data, created_at)
    SELECT id, 'created', '1', '{}'::jsonb, $5 FROM ticket
), outbox AS (
    INSERT INTO notifications (dedupe_key, ticket_id, tenant_id, kind, recipient, payload,
                               created_at, attempts)
    SELECT 'ticket_created:' || id, id, tenant_id, 'ticket_created', NULL, '{}'::jsonb, $5, 0
    FROM ticket
)
SELECT * FROM ticket
"""


async def run_for(seconds: float, concurrency: int, one: Any) -> float:
    """Operations per second of `one()` run back to back by `concurrency` tasks."""
    deadline = time.perf_counter() + seconds
    done = 0

    async def loop() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await one()
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return done / (time.perf_counter() - start)


async def bench(url: str, app_url: str, seconds: float) -> dict[str, Any]:
    await migrate_async(url)
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    engine = make_engine(app_url, Settings(db_pool_size=40, db_max_overflow=0))
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        tenants = TenantService(session, PLATFORM)
        await tenants.register_tenant("bench")
        await tenants.upsert_customer(tenant_id="bench", customer_id="1")
    pool = await asyncpg.create_pool(dsn, min_size=40, max_size=40)
    await pool.execute(RAW_TABLE)

    async def raw() -> None:
        async with pool.acquire() as connection:
            await connection.execute(RAW_INSERT, uuid.uuid4(), uuid.uuid4().hex)

    async def raw_transaction() -> None:
        async with pool.acquire() as connection, connection.transaction():
            await connection.execute(RAW_INSERT, uuid.uuid4(), uuid.uuid4().hex)

    customer = await pool.fetchrow("SELECT id, tenant_id FROM customers WHERE id = '1'")

    async def five_rows() -> None:
        """The physical floor of a real ticket: its five rows (counter, ticket, message, event,
        outbox; ~14 index entries) in one autocommit statement, with no lookup, no transaction
        around it and no Python service."""
        async with pool.acquire() as connection:
            await connection.fetchrow(
                FIVE_ROWS, uuid.uuid4(), customer["tenant_id"], customer["id"],
                uuid.uuid4().hex, datetime.now(UTC),
            )

    async def service_create() -> None:
        # The create every channel's flow runs: a read, then one statement that commits alone.
        async with sessions() as session:
            await TicketService(session, TENANT).create_ticket_alone(
                {"title": "No internet", "description": "Router blinks red", "customer_id": 1,
                 "assigned_team": "support", "idempotency_key": uuid.uuid4().hex}
            )

    rows = []
    for concurrency in CONCURRENCY:
        await run_for(min(1.0, seconds / 3), concurrency, raw)  # warm up both paths
        await run_for(min(1.0, seconds / 3), concurrency, service_create)
        raw_rate = await run_for(seconds, concurrency, raw)
        raw_tx_rate = await run_for(seconds, concurrency, raw_transaction)
        # Both write the one counter row thousands of times a second; its dead versions slow
        # whichever runs next until vacuumed, so each starts from a vacuumed counter.
        await pool.execute("VACUUM ticket_counters")
        service_rate = await run_for(seconds, concurrency, service_create)
        await pool.execute("VACUUM ticket_counters")
        floor_rate = await run_for(seconds, concurrency, five_rows)
        await pool.execute("VACUUM ticket_counters")
        rows.append({"concurrency": concurrency, "raw_per_s": raw_rate,
                     "raw_transaction_per_s": raw_tx_rate, "five_rows_per_s": floor_rate,
                     "service_per_s": service_rate})
    serial_raw = rows[0]["raw_per_s"]
    for row in rows:
        row["ratio_same_concurrency"] = row["service_per_s"] / row["raw_per_s"]
        row["ratio_vs_serialised_raw"] = row["service_per_s"] / serial_raw
        row["ratio_vs_raw_transaction"] = row["service_per_s"] / row["raw_transaction_per_s"]
        row["five_rows_vs_raw"] = row["five_rows_per_s"] / row["raw_per_s"]
        row["ratio_vs_five_rows"] = row["service_per_s"] / row["five_rows_per_s"]
    async with engine.connect() as connection:
        server = (await connection.execute(text("SHOW server_version"))).scalar_one()
    await pool.close()
    await engine.dispose()
    return {"benchmark": "create_path", "seconds_per_point": seconds, "postgres": server,
            "machine": machine(), "rows": rows}


def machine() -> dict[str, Any]:
    import temporalio

    return {"cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "temporalio": temporalio.__version__}


def print_table(result: dict[str, Any]) -> None:
    print(f"machine: {result['machine']}  postgres {result['postgres']}")
    print(f"{'c':>3} {'raw/s':>8} {'raw tx/s':>9} {'5 rows/s':>9} {'service/s':>10} "
          f"{'vs raw':>7} {'vs raw c=1':>11} {'vs raw tx':>10} {'vs 5 rows':>10} "
          f"{'5 rows vs raw':>14}")
    for row in result["rows"]:
        print(f"{row['concurrency']:>3} {row['raw_per_s']:>8.0f} "
              f"{row['raw_transaction_per_s']:>9.0f} {row['five_rows_per_s']:>9.0f} "
              f"{row['service_per_s']:>10.0f} "
              f"{row['ratio_same_concurrency']:>7.2f} {row['ratio_vs_serialised_raw']:>11.2f} "
              f"{row['ratio_vs_raw_transaction']:>10.2f} {row['ratio_vs_five_rows']:>10.2f} "
              f"{row['five_rows_vs_raw']:>14.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--database-url", default=os.environ.get("TICKETING_BENCH_DATABASE_URL"))
    # The role the service connects as (a member of ticketing_app); unset: the owner's URL.
    parser.add_argument("--app-database-url",
                        default=os.environ.get("TICKETING_BENCH_APP_DATABASE_URL"))
    args = parser.parse_args()
    configure_logging(level="WARNING")  # a log line per ticket would be part of the measurement
    url, app_url = args.database_url, args.app_database_url
    home = None
    if not url:
        from ticketing.db.embedded import embedded_app_url, embedded_postgres_url

        home = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        url = embedded_postgres_url(home)
        app_url = embedded_app_url(home)
    try:
        result = asyncio.run(bench(url, app_url or url, args.seconds))
    finally:
        if home is not None:
            from ticketing.db.embedded import stop_embedded_postgres

            stop_embedded_postgres(home)
    print_table(result)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "create_path.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
