"""Benchmark 4: how late SLA breaches are recorded behind their due time.

Run: python -m bench.timer_accuracy [--tickets 1000] [--spread 40] [--scale 2]

`tickets` urgent tickets under demo_policy(scale) (first response 10*scale s, resolution
30*scale s, warnings at 75%) are created at an even pace over `spread` seconds (<= 60, so every
first-response breach falls within the same minute), each with its EscalationWorkflow started
right away (ticketing.temporal.watchers.ensure_watcher), like the product does.

Lateness is absolute (the baseline is the due time itself), two ways:
  recorded   sla_breaches.recorded_at - due_at (recorded_at is workflow.now() of the workflow
             task that decided the breach, i.e. when the timer's task started)
  visible    when the row's transaction committed - due_at (PostgreSQL's
             pg_xact_commit_timestamp, so it includes the record_breach activity and its
             commit; read once at the end, so no poller loads the machine during the run)
Escalation: for the resolution breach at level 1, when the `escalated` event became visible,
and how long after the last level-1 resolution due time the last escalation was visible.
Goal: first-response p99 <= 1 s late.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import urllib.request
from typing import Any

from sqlalchemy import text

from bench.common import (
    Stack,
    cpu_over,
    find_free_port,
    machine,
    pct,
    quiet_logging,
    summary,
    write_result,
)
from ticketing.auth.principal import Principal
from ticketing.sla import demo_policy
from ticketing.temporal.watchers import ensure_watcher
from ticketing.tenants.service import TenantService
from ticketing.tickets.service import TicketService

TENANT = "timers"
GOAL_P99_S = 1.0


_BREACHES = text(
    "SELECT id, ticket_id, kind, due_at, recorded_at, escalation_level,"
    " pg_xact_commit_timestamp(xmin) AS committed FROM sla_breaches"
)
_ESCALATIONS = text(
    "SELECT ticket_id, data, pg_xact_commit_timestamp(xmin) AS committed FROM ticket_events"
    " WHERE kind = 'escalated'"
)
_PROGRESS = text(
    "SELECT (SELECT count(*) FROM sla_breaches WHERE kind = 'resolution'"
    "        AND escalation_level = 1),"
    "       (SELECT count(*) FROM ticket_events WHERE kind = 'escalated')"
)


async def read_rows(stack: Stack) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every breach and escalation with the moment its transaction committed (read once, at
    the end: no poller competes with the run for CPU)."""
    assert stack.engine is not None
    async with stack.engine.connect() as connection:
        breaches = [
            {
                "ticket_id": row.ticket_id,
                "kind": row.kind,
                "level": row.escalation_level,
                "due": row.due_at.timestamp(),
                "recorded": row.recorded_at.timestamp(),
                "seen": row.committed.timestamp(),
            }
            for row in await connection.execute(_BREACHES)
        ]
        escalations = [
            {
                "ticket_id": row.ticket_id,
                "from_level": row.data.get("from_level"),
                "seen": row.committed.timestamp(),
            }
            for row in await connection.execute(_ESCALATIONS)
        ]
    return breaches, escalations


def worker_cache_metrics(port: int) -> dict[str, float]:
    """The worker's sticky-cache counters from its Prometheus endpoint: a miss or a forced
    eviction means a timer found its workflow out of the cache and replayed its history."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text_ = response.read().decode()
    found: dict[str, float] = {}
    for line in text_.splitlines():
        name, _, value = line.partition(" ")
        name = name.split("{", 1)[0]
        if name.startswith("temporal_sticky_cache") and not line.startswith("#"):
            found[name] = found.get(name, 0.0) + float(value.split()[0])
    return found


async def sample_cpu(
    meters: dict[str, Any], series: list[dict[str, float]], origin: float
) -> None:
    """Cores used by each process, second by second (averages hide the burst)."""
    last, then = {k: m.cpu_seconds() for k, m in meters.items()}, time.time()
    while True:
        await asyncio.sleep(1.0)
        now, at = {k: m.cpu_seconds() for k, m in meters.items()}, time.time()
        series.append({"t": round(at - origin, 1),
                       **{k: round((now[k] - last[k]) / (at - then), 2) for k in now}})
        last, then = now, at


def late_by_second(breaches: list[dict[str, Any]], start: float) -> list[dict[str, Any]]:
    """Lateness of the breaches due in each 5-second slice of the run (seconds since start)."""
    slices: dict[int, list[float]] = {}
    for b in breaches:
        slices.setdefault(int((b["due"] - start) // 5) * 5, []).append(b["recorded"] - b["due"])
    return [{"due_s": k, "n": len(v), "p99": pct(v, 99), "max": max(v)}
            for k, v in sorted(slices.items())]


def of_kind(breaches: list[dict[str, Any]], kind: str, level: int = 1) -> list[dict[str, Any]]:
    return [b for b in breaches if b["kind"] == kind and b["level"] == level]


async def bench(n: int, spread: float, scale: int, concurrency: int) -> dict[str, Any]:
    policy = demo_policy(scale)
    targets = policy.targets["urgent"]
    assert targets is not None  # demo_policy gives every priority targets
    metrics_port = find_free_port()
    async with Stack(
        commit_timestamps=True, worker_env={"TICKETING_METRICS_PORT": str(metrics_port)}
    ) as stack:
        assert stack.client is not None and stack.sessions is not None
        client, queue, sessions = stack.client, stack.task_queue, stack.sessions
        async with sessions() as session, session.begin():
            service = TenantService(session, Principal.platform())
            await service.register_tenant(TENANT, sla_policy=policy)
            await service.upsert_customer(tenant_id=TENANT, customer_id="1")
        meters = stack.meters()
        cpu_start = {k: m.cpu_seconds() for k, m in meters.items()}
        idle = await cpu_over(meters, 2.0)
        slots = iter(range(n))
        created: dict[Any, float] = {}
        lag: list[float] = []
        start = time.time() + 0.5
        series: list[dict[str, float]] = []
        sampling = asyncio.create_task(sample_cpu(meters, series, start))

        async def create_loop() -> None:
            for i in slots:
                slot = start + i * spread / n
                await asyncio.sleep(max(0.0, slot - time.time()))
                lag.append(time.time() - slot)
                async with sessions() as session, session.begin():
                    ticket = await TicketService(session, Principal.platform()).create_ticket(
                        {
                            "title": f"Timer {i}",
                            "customer_id": 1,
                            "priority": "urgent",
                            "idempotency_key": f"timer-{i}",
                        }
                    )
                created[ticket.ticket_id] = ticket.created_at.timestamp()
                await ensure_watcher(client, ticket, queue)

        await asyncio.gather(*(create_loop() for _ in range(concurrency)))
        created_s = time.time() - start
        print(
            f"  created {n} tickets + watchers in {created_s:.1f}s "
            f"(pacing lag p99 {summary(lag)['p99']:.2f}s); waiting for breaches...",
            flush=True,
        )
        last_due = max(created.values()) + targets.resolution.total_seconds()
        deadline = last_due + 120
        assert stack.engine is not None
        while time.time() < deadline:
            async with stack.engine.connect() as connection:
                resolved, escalated = (await connection.execute(_PROGRESS)).one()
            if resolved >= n and escalated >= n:
                break
            await asyncio.sleep(0.5)
        sampling.cancel()
        cpu = {k: m.cpu_seconds() - cpu_start[k] for k, m in meters.items()}
        wall = time.time() - start
        breaches, all_escalations = await read_rows(stack)
        cache = worker_cache_metrics(metrics_port)
        worker_gc = stack.worker_progress().get("gc")
        first = of_kind(breaches, "first_response")
        resolution = of_kind(breaches, "resolution")
        escalations = [e for e in all_escalations if e["from_level"] == 1]
        res_due = {b["ticket_id"]: b["due"] for b in resolution}
        first_due = [b["due"] for b in first]
        last_res_due = max(res_due.values(), default=0.0)
        return {
            "benchmark": "timer_accuracy",
            "tickets": n,
            "spread_s": spread,
            "policy": f"demo_policy({scale}) urgent: first response "
            f"{targets.first_response.total_seconds():.0f}s, resolution "
            f"{targets.resolution.total_seconds():.0f}s",
            "goal_p99_s": GOAL_P99_S,
            "first_response_window_s": (max(first_due) - min(first_due)) if first_due else None,
            "first_response": {
                "count": len(first),
                "recorded_late_s": summary([b["recorded"] - b["due"] for b in first]),
                "visible_late_s": summary([b["seen"] - b["due"] for b in first]),
            },
            "resolution": {
                "count": len(resolution),
                "recorded_late_s": summary([b["recorded"] - b["due"] for b in resolution]),
                "visible_late_s": summary([b["seen"] - b["due"] for b in resolution]),
            },
            "escalation": {
                "count": len(escalations),
                "visible_after_due_s": summary(
                    [
                        e["seen"] - res_due[e["ticket_id"]]
                        for e in escalations
                        if e["ticket_id"] in res_due
                    ]
                ),
                "last_visible_after_last_due_s": (
                    max(e["seen"] for e in escalations) - last_res_due if escalations else None
                ),
            },
            "worker_sticky_cache": cache,
            "worker_gc": worker_gc,
            "first_response_late_by_due_second": late_by_second(first, start),
            "cpu_cores_by_second": series,
            "warnings_recorded": sum(1 for b in breaches if b["kind"].endswith("_warning")),
            "cpu_cores_during_run": {k: v / wall for k, v in cpu.items()},
            "cpu_cores_idle_before": idle,
            "machine": machine(stack.postgres_version),
        }


def print_table(r: dict[str, Any]) -> None:
    print(f"machine: {r['machine']}")
    print(
        f"{r['tickets']} tickets over {r['spread_s']:.0f}s, {r['policy']}; first-response "
        f"breaches spread over {r['first_response_window_s'] or 0:.1f}s; "
        f"{r['warnings_recorded']} warnings recorded too"
    )
    print(f"{'what':<34} {'n':>5} {'p50 s':>7} {'p99 s':>7} {'max s':>7}")
    rows = [
        ("first_response recorded_at - due", r["first_response"], "recorded_late_s"),
        ("first_response visible - due", r["first_response"], "visible_late_s"),
        ("resolution L1 recorded_at - due", r["resolution"], "recorded_late_s"),
        ("resolution L1 visible - due", r["resolution"], "visible_late_s"),
        ("escalated L1->L2 visible - due", r["escalation"], "visible_after_due_s"),
    ]
    for label, group, key in rows:
        s = group[key]
        if s["n"]:
            print(f"{label:<34} {s['n']:>5} {s['p50']:>7.3f} {s['p99']:>7.3f} {s['max']:>7.3f}")
        else:
            print(f"{label:<34} {0:>5}")
    print(
        "worker sticky cache: "
        + ", ".join(
            f"{k.removeprefix('temporal_sticky_cache_')} {v:.0f}"
            for k, v in r["worker_sticky_cache"].items()
        )
    )
    if r.get("worker_gc"):
        g = r["worker_gc"]
        print(f"worker garbage collector: {g['collections']} collections, "
              f"{g['seconds']:.2f} s in all, longest {g['longest'] * 1000:.0f} ms")
    last = r["escalation"]["last_visible_after_last_due_s"]
    print(
        f"last escalation visible {last if last is None else round(last, 3)} s after the last "
        f"resolution due time; CPU during run (cores) "
        + ", ".join(f"{k} {v:.2f}" for k, v in r["cpu_cores_during_run"].items())
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument(
        "--spread", type=float, default=40.0, help="seconds over which tickets are created (<= 60)"
    )
    parser.add_argument("--scale", type=int, default=2, help="demo_policy(scale_seconds)")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument(
        "--runs", type=int, default=1,
        help="repeat on fresh servers and report the median run (by first-response p99)",
    )
    args = parser.parse_args(argv)
    quiet_logging()
    runs = []
    for number in range(args.runs):
        if args.runs > 1:
            print(f"run {number + 1}/{args.runs}", flush=True)
        runs.append(asyncio.run(bench(args.tickets, args.spread, args.scale, args.concurrency)))
        print_table(runs[-1])
    # This machine is shared and its load swings between runs: the median run is the figure,
    # every run is kept.
    ranked = sorted(runs, key=lambda r: r["first_response"]["recorded_late_s"]["p99"] or 0.0)
    result = dict(ranked[(len(ranked) - 1) // 2])
    result["runs"] = [
        {"first_response_recorded_p99_s": r["first_response"]["recorded_late_s"]["p99"],
         "first_response_visible_p99_s": r["first_response"]["visible_late_s"]["p99"],
         "resolution_recorded_p99_s": r["resolution"]["recorded_late_s"]["p99"],
         "cpu_cores_during_run": r["cpu_cores_during_run"]}
        for r in runs
    ]
    if len(runs) > 1:
        print("median run of", len(runs), "(first-response recorded p99 per run: "
              + ", ".join(f"{r['first_response_recorded_p99_s']:.3f}" for r in result["runs"])
              + " s)")
        print_table(result)
    write_result("timer_accuracy", result)
    return result


if __name__ == "__main__":
    main()
