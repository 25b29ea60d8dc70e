"""Where one mail's time goes inside the intake: wall and CPU per stage, round trips per mail.

Run: python -m bench.mail_stages [--mails 400] [--database-url URL]

In-process, no SMTP and no Temporal: bench.mail_intake's database and message (a registered
customer's new mail), then for each mail the SMTP door's RCPT and DATA hooks as `ticketing mail
serve` runs them (aiosmtpd's protocol work is not in it). The stages are timed by wrapping the
functions the flow calls (each wrapper costs a few microseconds); the statements are counted
on the driver (every statement of the intake's path goes through ticketing.db.driver) and on
SQLAlchemy (none expected), RLS scope switches (`set_config`, one round trip each) apart.
Wall times are as loaded as the machine is; CPU times are this process's only (PostgreSQL's
own work is not in them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmtpd.smtp import Envelope
from sqlalchemy import event
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

import ticketing.db.driver as driver
import ticketing.db.rls as rls
import ticketing.mail.flows as flows
import ticketing.mail.intake_repository as intake_repo
from bench.api import NoWatchers, QueuedNotices
from bench.common import bench_database, quiet_logging
from bench.mail_intake import MAILBOX, SENDERS, seed, wire_message
from ticketing.smtp.server import IntakeHandler
from ticketing.tickets.flows import TicketFlows

Spent = defaultdict[str, list[float]]


def timed(spent: Spent, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
    """`call` (sync or async) with its wall and CPU time added to `spent[name]`."""

    def add(wall: float, cpu: float) -> None:
        spent[name][0] += time.perf_counter() - wall
        spent[name][1] += time.process_time() - cpu

    if asyncio.iscoroutinefunction(call):

        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return await call(*args, **kwargs)
            finally:
                add(wall, cpu)

        return timed_async

    def timed_sync(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return call(*args, **kwargs)
        finally:
            add(wall, cpu)

    return timed_sync


def count_statements(counts: Counter[str]) -> None:
    """Count every driver statement by its first word, and every RLS scope switch."""
    run: Callable[..., Awaitable[Any]] = driver._Guarded._run

    async def counted(self: Any, call: Any, query: str, args: tuple[object, ...]) -> Any:
        counts[f"driver {query.split()[0].upper()}"] += 1
        return await run(self, call, query, args)

    ensure = rls._ensure

    def ensured(want: str, connection: Any) -> None:
        if connection.info.get(rls._HAVE, rls.NOTHING) != want:
            counts["set_config (RLS scope switch)"] += 1
        ensure(want, connection)

    setattr(driver._Guarded, "_run", counted)  # noqa: B010 - a bench's instrument
    setattr(rls, "_ensure", ensured)  # noqa: B010


async def measure(url: str, mails: int) -> None:
    await seed(url)
    engine = create_async_engine(url, pool_size=20, max_overflow=0)
    counts: Counter[str] = Counter()

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _orm(*args: Any) -> None:
        counts[f"SQLAlchemy {str(args[2]).split()[0].upper()}"] += 1

    lookup_engine = create_async_engine(url, pool_size=2, max_overflow=10)
    spent: Spent = defaultdict(lambda: [0.0, 0.0])
    setattr(flows, "parse_mail", timed(spent, "parse", flows.parse_mail))  # noqa: B010
    lookup = timed(spent, "mailbox lookup", intake_repo.mailboxes_named)
    setattr(intake_repo, "mailboxes_named", lookup)  # noqa: B010
    store = timed(spent, "store + sender facts", intake_repo.store_mail)
    setattr(intake_repo, "store_mail", store)  # noqa: B010
    setattr(TicketFlows, "create", timed(spent, "ticket create", TicketFlows.create))  # noqa: B010
    outcome = timed(spent, "outcome", intake_repo.record_outcome_alone)
    setattr(intake_repo, "record_outcome_alone", outcome)  # noqa: B010
    count_statements(counts)
    intake = flows.MailIntake(
        async_sessionmaker(engine, expire_on_commit=False),
        watchers=NoWatchers(),
        notices=QueuedNotices(),
        config=flows.IntakeConfig(mail_domain="bench.test"),
        # As `ticketing mail serve`: the mailbox lookups on a small pool of their own.
        lookups=async_sessionmaker(lookup_engine),
    )
    handler = IntakeHandler(intake)
    raws = [wire_message(f"customer{i % SENDERS}@bench.example")[:-3] for i in range(mails + 50)]
    nothing: Any = None  # the hooks read neither the server nor the SMTP session

    async def one(raw: bytes) -> None:
        envelope = Envelope()
        assert (await handler.handle_RCPT(nothing, nothing, envelope, MAILBOX, [])).startswith(
            "250"
        )
        envelope.original_content = raw
        reply = await handler.handle_DATA(nothing, nothing, envelope)
        assert reply.endswith("(created)"), reply

    for raw in raws[:50]:  # warm: prepared statements, pool, caches
        await one(raw)
    spent.clear()
    counts.clear()
    wall, cpu = time.perf_counter(), time.process_time()
    for raw in raws[50:]:
        await one(raw)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    await engine.dispose()
    await lookup_engine.dispose()
    print(f"{mails} mails, one at a time; load average {os.getloadavg()}")
    print(f"{'stage':40} {'wall ms':>8} {'CPU ms':>8}")
    rows = [
        ("whole (RCPT + DATA hooks)", wall, cpu),
        *((n, w, c) for n, (w, c) in spent.items()),
    ]
    for name, stage_wall, stage_cpu in rows:
        print(f"{name:40} {stage_wall / mails * 1e3:8.3f} {stage_cpu / mails * 1e3:8.3f}")
    print("statements per mail:", {k: round(v / mails, 2) for k, v in sorted(counts.items())})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mails", type=int, default=400)
    parser.add_argument("--database-url", default=os.environ.get("TICKETING_BENCH_DATABASE_URL"))
    args = parser.parse_args()
    quiet_logging()
    with bench_database(args.database_url) as url:
        asyncio.run(measure(url, args.mails))


if __name__ == "__main__":
    main()
