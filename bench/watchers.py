"""Benchmark 3: N open SLA watchers (EscalationWorkflow) on 30-day timers.

Run: python -m bench.watchers [--watchers 1000] [--idle-seconds 10] [--cache N]
     (bigger: --watchers 5000, --watchers 20000)

Tickets are created straight through TicketingService (not measured), then one watcher per
ticket is started with ticketing.temporal.watchers.ensure_watcher (`concurrency` in flight). A
watcher is armed when its `sla_snapshot` activity has completed (counted by the bench worker) and
its timer is set
(checked on a sample of histories). Figures: start rate, arming rate, dev-server and worker RSS
per open watcher (delta over the idle baseline of the same stack / N), the worker's peak RSS
while arming (bounded by the workflow cache), and the idle CPU of both processes over
`idle_seconds` once all are armed, against the same processes idle with no watchers.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from typing import Any

from temporalio.api.enums.v1 import EventType

from bench.common import Stack, cpu_over, machine, quiet_logging, write_result
from bench.workflow_path import LONG_POLICY, TENANT
from ticketing.auth.principal import Principal
from ticketing.temporal.schemas import TicketInfo
from ticketing.temporal.watchers import ensure_watcher, escalation_workflow_id
from ticketing.tenants.service import TenantService
from ticketing.tickets.service import TicketService

MB = 1024 * 1024


async def create_tickets(stack: Stack, n: int, concurrency: int = 8) -> list[TicketInfo]:
    assert stack.sessions is not None
    sessions = stack.sessions
    async with sessions() as session, session.begin():
        service = TenantService(session, Principal.platform())
        await service.register_tenant(TENANT, sla_policy=LONG_POLICY)
        await service.upsert_customer(tenant_id=TENANT, customer_id="1")
    tickets: list[TicketInfo] = []
    numbers = iter(range(n))

    async def loop() -> None:
        for i in numbers:
            async with sessions() as session, session.begin():
                tickets.append(await TicketService(session, Principal.platform()).create_ticket(
                    {"title": f"Watcher {i}", "customer_id": 1, "priority": "urgent",
                     "idempotency_key": f"watch-{i}"}))

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return tickets


def sqlite_bytes(stack: Stack) -> int:
    assert stack.server is not None
    base = stack.server.db_filename
    return sum(p.stat().st_size for p in base.parent.glob(base.name + "*") if p.is_file())


async def timers_armed(stack: Stack, tickets: list[TicketInfo], sample: int) -> dict[str, int]:
    """How many of a random sample of watchers have a started timer and nothing pending."""
    assert stack.client is not None
    picked = random.sample(tickets, min(sample, len(tickets)))
    armed = 0
    for ticket in picked:
        handle = stack.client.get_workflow_handle(escalation_workflow_id(ticket.ticket_number))
        events = [event.event_type async for event in handle.fetch_history_events()]
        if events and events[-1] == EventType.EVENT_TYPE_TIMER_STARTED:
            armed += 1
    return {"sampled": len(picked), "timer_started_last": armed}


async def bench(n: int, idle_seconds: float, concurrency: int, cache: int | None,
                sample: int) -> dict[str, Any]:
    env = {"TICKETING_MAX_CACHED_WORKFLOWS": str(cache)} if cache is not None else {}
    async with Stack(worker_env=env) as stack:
        assert stack.client is not None
        client, queue = stack.client, stack.task_queue
        t0 = time.perf_counter()
        warm = max(1, min(50, n // 10))
        every = await create_tickets(stack, n + warm)
        warmup, tickets = every[:warm], every[warm:]
        create_s = time.perf_counter() - t0
        server, worker = stack.server_meter(), stack.worker_meter()
        meters = {"server": server, "worker": worker}

        def snapshots_done() -> int:
            return int(stack.worker_progress().get("completed", {}).get("sla_snapshot", 0))

        # Warm the worker (sandbox imports, pools) so the baseline is a worker that has run
        # watchers; the warm-up watchers stay open and are not counted in N.
        for ticket in warmup:
            await ensure_watcher(client, ticket, queue)
        while snapshots_done() < warm:
            await asyncio.sleep(0.1)
        await asyncio.sleep(2)
        base_rss = {"server": server.rss(), "worker": worker.rss()}
        base_sqlite = sqlite_bytes(stack)
        print(f"  {n} tickets in {create_s:.1f}s; idle baseline CPU over {idle_seconds:.0f}s...",
              flush=True)
        idle_before = await cpu_over(meters, idle_seconds)

        peak = {"server": 0, "worker": 0}
        checkpoints: list[dict[str, Any]] = []
        sampling = True

        async def sample_rss() -> None:
            marks = [warm + n * q // 4 for q in (1, 2, 3, 4)]
            while sampling:
                rss = {"server": server.rss(), "worker": worker.rss()}
                for name in peak:
                    peak[name] = max(peak[name], rss[name])
                done = snapshots_done()
                while marks and done >= marks[0]:
                    checkpoints.append({"armed": marks.pop(0) - warm,
                                        "server_mb": rss["server"] / MB,
                                        "worker_mb": rss["worker"] / MB})
                await asyncio.sleep(0.25)

        sampler = asyncio.create_task(sample_rss())
        pending = iter(tickets)
        start = time.perf_counter()

        async def start_loop() -> None:
            for ticket in pending:
                await ensure_watcher(client, ticket, queue)

        await asyncio.gather(*(start_loop() for _ in range(concurrency)))
        started_s = time.perf_counter() - start
        print(f"  started {n} in {started_s:.1f}s; arming...", flush=True)
        deadline = time.perf_counter() + max(120.0, n / 5)
        while snapshots_done() < n + warm and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
        armed_s = time.perf_counter() - start
        done = snapshots_done() - warm
        await asyncio.sleep(1.0)  # the workflow task after the last activity sets its timer
        sampling = False
        await sampler
        check = await timers_armed(stack, tickets, sample)
        await asyncio.sleep(2)
        rss = {"server": server.rss(), "worker": worker.rss()}
        idle_after = await cpu_over(meters, idle_seconds)
        sqlite = sqlite_bytes(stack)
        cache_size = stack.worker_progress().get("max_cached_workflows")
        return {
            "benchmark": "watchers", "watchers": n, "warmup_watchers": warm,
            "start_concurrency": concurrency,
            "max_cached_workflows": cache_size, "ticket_create_s": create_s,
            "start_s": started_s, "start_per_s": n / started_s,
            "armed": done, "armed_s": armed_s, "armed_per_s": done / armed_s,
            "armed_check": check,
            "rss_baseline_mb": {k: v / MB for k, v in base_rss.items()},
            "rss_after_mb": {k: v / MB for k, v in rss.items()},
            "rss_peak_mb": {k: v / MB for k, v in peak.items()},
            "rss_kb_per_watcher": {k: (rss[k] - base_rss[k]) / 1024 / n for k in rss},
            "sqlite_kb_per_watcher": (sqlite - base_sqlite) / 1024 / n,
            "rss_checkpoints": checkpoints,
            "idle_seconds": idle_seconds,
            "idle_cpu_cores_before": idle_before, "idle_cpu_cores_after": idle_after,
            "machine": machine(stack.postgres_version),
        }


def print_table(r: dict[str, Any]) -> None:
    print(f"machine: {r['machine']}")
    print(f"{r['watchers']} watchers (30-day timers), worker cache {r['max_cached_workflows']}; "
          f"{r['armed']} armed, sample {r['armed_check']}")
    print(f"start: {r['start_per_s']:.1f}/s ({r['start_s']:.1f}s)   "
          f"armed: {r['armed_per_s']:.1f}/s ({r['armed_s']:.1f}s from first start)")
    print(f"{'process':<8} {'base MB':>8} {'after MB':>9} {'peak MB':>8} {'KB/watcher':>11} "
          f"{'idle CPU 0 w':>13} {'idle CPU N w':>13}")
    for name in ("server", "worker"):
        print(f"{name:<8} {r['rss_baseline_mb'][name]:>8.0f} {r['rss_after_mb'][name]:>9.0f} "
              f"{r['rss_peak_mb'][name]:>8.0f} {r['rss_kb_per_watcher'][name]:>11.1f} "
              f"{r['idle_cpu_cores_before'][name] * 100:>12.1f}% "
              f"{r['idle_cpu_cores_after'][name] * 100:>12.1f}%")
    print(f"sqlite: {r['sqlite_kb_per_watcher']:.1f} KB/watcher; worker RSS at "
          + ", ".join(f"{c['armed']}: {c['worker_mb']:.0f} MB" for c in r["rss_checkpoints"]))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--cache", type=int, default=None,
                        help="worker max_cached_workflows (default: Settings)")
    parser.add_argument("--sample", type=int, default=20, help="histories checked for a timer")
    args = parser.parse_args(argv)
    quiet_logging()
    result = asyncio.run(bench(args.watchers, args.idle_seconds, args.concurrency, args.cache,
                               args.sample))
    print_table(result)
    # The default size feeds the summary; bigger runs are kept beside it.
    write_result("watchers" if args.watchers == 1000 else f"watchers_{args.watchers}", result)
    return result


if __name__ == "__main__":
    main()
