"""Outage notices: affected customers notified per second, from `update` to the last mail the
SMTP server accepted, against the same number of notices queued straight into the outbox.

Run: python -m bench.outage [--customers 5000,50000]

One stack (embedded PostgreSQL, Temporal dev server, the bench worker with the product's
workflows) mailing into an aiosmtpd sink in this process. The outage is declared while no
customer carries its tag (its first update reaches nobody), then N customers get the tag and
the timed update goes out: the door commits it and signals OutageWorkflow, which pages through
the customers (500 a page, one transaction each) queueing one notice per customer, and the
task queue's notification dispatcher sends them. Baseline, in the same run and stack: N
notices of the same kind queued in one statement and the dispatcher woken, so the ratio is
what paging through the workflow costs over delivery alone.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
import uuid
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import text

from bench.api import free_port
from bench.common import Stack, machine, quiet_logging, write_result
from ticketing.auth.principal import Principal
from ticketing.db.rls import bind_scope
from ticketing.notifications.dispatch import DispatcherInput
from ticketing.notifications.service import QueueOnly
from ticketing.outages import repository as outages_repo
from ticketing.outages.flows import OutageFlows
from ticketing.temporal.dispatcher import DispatcherDoorbell
from ticketing.temporal.outages import TemporalOutageRuns
from ticketing.temporal.watchers import TemporalWatchers
from ticketing.tenants.service import TenantService

TAG = "olt:bench-1"
PLATFORM = Principal.platform(name="bench")
SERIES = "generate_series(CAST(:first AS int), CAST(:last AS int))"


class Sink:
    """Counts accepted messages carrying a marker, with the time of the last one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.last: dict[str, float] = {}

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = bytes(envelope.original_content or b"")
        for marker in list(self.counts):
            if marker.encode() in content:
                with self.lock:
                    self.counts[marker] += len(envelope.rcpt_tos)
                    self.last[marker] = time.perf_counter()
        return "250 2.0.0 queued"

    def expect(self, marker: str) -> None:
        with self.lock:
            self.counts[marker] = 0

    async def until(self, marker: str, count: int, timeout: float) -> float:
        deadline = time.perf_counter() + timeout
        while self.counts[marker] < count:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{marker}: {self.counts[marker]} of {count} mails")
            await asyncio.sleep(0.05)
        return self.last[marker]


async def seed(stack: Stack, customers: int, offset: int) -> None:
    assert stack.sessions is not None and stack.engine is not None
    async with stack.sessions() as s, s.begin():
        await TenantService(s, PLATFORM).register_tenant(
            "acme", name="Acme ISP", support_email="desk@acme.test"
        )
    async with stack.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO customers (tenant_id, id, email, tags) SELECT 'acme', g::text,"
                " 'c' || g || '@example.com', '{}'::varchar[]"
                f" FROM {SERIES} g ON CONFLICT DO NOTHING"
            ),
            {"first": offset + 1, "last": offset + customers},
        )


async def paged(stack: Stack, ticket_id: uuid.UUID, timeout: float = 60.0) -> None:
    """Until the outage's updates so far have reached everyone they reach."""
    assert stack.engine is not None
    deadline = time.perf_counter() + timeout
    while True:
        async with stack.engine.connect() as connection:
            row = (
                await connection.execute(
                    text("SELECT sent_seq >= seq FROM outages WHERE ticket_id = :id"),
                    {"id": ticket_id},
                )
            ).first()
        if row is not None and row[0]:
            return
        if time.perf_counter() > deadline:
            raise TimeoutError("the declaration's pages did not run")
        await asyncio.sleep(0.05)


async def one_size(stack: Stack, sink: Sink, customers: int, offset: int) -> dict[str, Any]:
    assert stack.sessions is not None and stack.engine is not None and stack.client is not None
    await seed(stack, customers, offset)
    client, queue = stack.client, stack.task_queue
    doorbell = DispatcherDoorbell(client, queue, DispatcherInput())
    runs = TemporalOutageRuns(client, queue)
    admin = Principal.tenant_admin("acme", name="bench")
    flows = OutageFlows(
        stack.sessions,
        admin,
        watchers=TemporalWatchers(client, queue),
        notices=QueueOnly(),
        runs=runs,
    )
    run_id = uuid.uuid4().hex[:8]
    declared = await flows.declare({"title": f"Bench {run_id}", "tags": [f"{TAG}-{run_id}"]})
    # The declaration's own pages must find nobody tagged: tagging before they ran sent N more
    # mails inside a timed phase (5,000-customer rows took twice as long about half the time).
    await paged(stack, declared.ticket_id)
    async with stack.engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE customers SET tags = ARRAY[:tag]::varchar[]"
                f" WHERE tenant_id = 'acme' AND id IN (SELECT g::text FROM {SERIES} g)"
            ),
            {"tag": f"{TAG}-{run_id}", "first": offset + 1, "last": offset + customers},
        )
    timeout = 120 + customers / 20

    # Baseline: the same number of notices queued at once, then the dispatcher woken.
    marker = f"BASELINE-{run_id}"
    sink.expect(marker)
    async with stack.sessions() as s, s.begin():
        bind_scope(s, PLATFORM)
        started = time.perf_counter()
        await outages_repo.queue_outage_notices(
            s,
            ticket_id=declared.ticket_id,
            tenant_id="acme",
            kind="outage_update",
            keys=[f"bench:{run_id}:{n}" for n in range(customers)],
            emails=[f"c{offset + n + 1}@example.com" for n in range(customers)],
            payload={"body": marker, "outage": declared.ticket_number, "seq": 0},
        )
    await doorbell.hand_over(declared.ticket_id)
    baseline_s = await sink.until(marker, customers, timeout) - started

    marker = f"UPDATE-{run_id}"
    sink.expect(marker)
    started = time.perf_counter()
    await flows.post_update(declared.ticket_number, marker, key=marker)
    outage_s = await sink.until(marker, customers, timeout) - started
    await doorbell.aclose()
    return {
        "customers": customers,
        "outage_s": round(outage_s, 2),
        "outage_per_s": round(customers / outage_s, 1),
        "baseline_s": round(baseline_s, 2),
        "baseline_per_s": round(customers / baseline_s, 1),
        "ratio": round(baseline_s / outage_s, 3),
    }


async def main(sizes: list[int]) -> dict[str, Any]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, ready_timeout=10.0)
    controller.start()
    try:
        env = {"TICKETING_SMTP_URL": f"smtp://127.0.0.1:{port}", "TICKETING_LOG_LEVEL": "WARNING"}
        rows = []
        async with Stack(worker_env=env) as stack:
            offset = 0
            for customers in sizes:
                rows.append(await one_size(stack, sink, customers, offset))
                print(rows[-1], flush=True)
                offset += customers
            info = machine(stack.postgres_version)
    finally:
        controller.stop()
    return {"rows": rows, "machine": info}


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", default="5000", help="Comma-separated sizes.")
    args = parser.parse_args()
    quiet_logging()
    sizes = [int(size) for size in args.customers.split(",")]
    result = asyncio.run(main(sizes))
    path = write_result("outage", result)
    print(f"wrote {path}")


if __name__ == "__main__":
    run()
