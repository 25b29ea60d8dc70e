"""What one SLA threshold costs the worker: the watcher's activities run back to back.

Run: python -m bench.threshold_cost [--tickets 200]

`tickets` urgent tickets under demo_policy() are created, then each goes through the activities
its watcher runs: `sla_snapshot` once, then `record_breach` for each threshold in order (the
resolution breach also escalates), on the product's activity class with a logging notifier. Wall
and CPU time of this process per call, against `TicketingService.create_ticket` measured in the
same run as the baseline (the machine is noisy; the ratio travels better than the milliseconds).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.testing import ActivityEnvironment

from activities.tickets import TicketActivities
from bench.common import machine, stop_postgres, write_result
from ticketing.auth.principal import Principal
from ticketing.db.engine import make_engine, make_sessionmaker, migrate_async
from ticketing.notifications.mailer import Notifier
from ticketing.runtime.settings import Settings
from ticketing.sla import demo_policy
from ticketing.temporal.schemas import RecordBreachInput, SnapshotInput
from ticketing.tenants.service import TenantService
from ticketing.tickets.service import TicketService

STEPS = (
    ("sla_snapshot", None),
    ("first_response_warning", 8),
    ("first_response", 11),
    ("resolution_warning", 23),
    ("resolution", 31),
)


async def bench(url: str, n: int) -> dict[str, Any]:
    await migrate_async(url)
    engine = make_engine(url, Settings())
    sessions = make_sessionmaker(engine)
    customer = random.randint(10**6, 10**9)
    async with sessions() as session, session.begin():
        service = TenantService(session, Principal.platform())
        await service.register_tenant("cost", sla_policy=demo_policy(), support_email="s@cost.test")
        await service.upsert_customer(tenant_id="cost", customer_id=str(customer))
    t0 = datetime.now(UTC)
    tickets = []
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        async with sessions() as session, session.begin():
            ticket = await TicketService(session, Principal.platform()).create_ticket(
                {"title": "Cost", "customer_id": customer, "priority": "urgent"}, now=t0
            )
        tickets.append((ticket.ticket_id, ticket.ticket_number))
    rows: list[dict[str, Any]] = [
        {"step": "create_ticket (baseline)", "wall_ms": (time.perf_counter() - wall) / n * 1e3,
         "cpu_ms": (time.process_time() - cpu) / n * 1e3}
    ]
    activities = TicketActivities(sessions, client=None, notifier=Notifier(), task_queue="cost")
    env = ActivityEnvironment()
    for kind, seconds in STEPS:
        cpu, wall = time.process_time(), time.perf_counter()
        for ticket_id, number in tickets:
            # As the watcher calls them: locally, from EscalationWorkflow `escalation-<number>`.
            env.info = replace(env.info, workflow_type="EscalationWorkflow",
                               workflow_id=f"escalation-{number}", is_local=True)
            if seconds is None:
                await env.run(activities.sla_snapshot, SnapshotInput(ticket_id=ticket_id, now=t0))
            else:
                result = await env.run(activities.record_breach, RecordBreachInput(
                    ticket_id=ticket_id, kind=kind, now=t0 + timedelta(seconds=seconds)))
                assert result.recorded, (kind, result)
        rows.append({"step": kind, "wall_ms": (time.perf_counter() - wall) / n * 1e3,
                     "cpu_ms": (time.process_time() - cpu) / n * 1e3})
    await engine.dispose()
    base = rows[0]["cpu_ms"]
    for row in rows:
        row["cpu_vs_create"] = row["cpu_ms"] / base
    return {"benchmark": "threshold_cost", "tickets": n, "rows": rows, "machine": machine()}


def print_table(result: dict[str, Any]) -> None:
    print(f"machine: {result['machine']}")
    print(f"{'step':<26} {'wall ms':>8} {'cpu ms':>7} {'cpu vs create':>14}")
    for row in result["rows"]:
        print(f"{row['step']:<26} {row['wall_ms']:>8.2f} {row['cpu_ms']:>7.2f} "
              f"{row['cpu_vs_create']:>14.2f}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=200)
    args = parser.parse_args(argv)
    # ERROR, not the benches' usual WARNING: every threshold logs a warning line, 800 here.
    from ticketing.runtime.logging import configure_logging

    configure_logging(level="ERROR")
    from ticketing.db.embedded import embedded_postgres_url

    home = Path(tempfile.mkdtemp(prefix="bench-cost-"))
    try:
        result = asyncio.run(bench(embedded_postgres_url(home), args.tickets))
    finally:
        stop_postgres(home)
    print_table(result)
    write_result("threshold_cost", result)
    return result


if __name__ == "__main__":
    main()
