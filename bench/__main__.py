"""Run every benchmark, print one summary table, write bench/results/*.json and summary.png.

Run: python -m bench [--only workflow_path,watchers] [--quick]

Each benchmark runs in its own process (its own dev server, PostgreSQL and bench worker), one
after the other, with its default (short) sizes; run a module on its own for bigger sizes, e.g.
`python -m bench.watchers --watchers 20000`. `--quick` is a smoke test with tiny sizes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from bench.common import RESULTS, ROOT, machine, stop_postgres

BENCHMARKS = ["create_path", "api", "desk", "mail_intake", "threshold_cost", "workflow_path",
              "watchers", "timer_accuracy", "startup", "end_to_end"]
QUICK = {
    "create_path": ["--seconds", "1"],
    "api": ["--seconds", "1", "--rounds", "1"],
    "desk": ["--tickets", "2000", "--requests", "20"],
    "mail_intake": ["--seconds", "1", "--rounds", "1"],
    "threshold_cost": ["--tickets", "20"],
    "workflow_path": ["--seconds", "3", "--concurrency", "10", "--warmup", "1"],
    "watchers": ["--watchers", "100", "--idle-seconds", "2"],
    "timer_accuracy": ["--tickets", "50", "--spread", "5", "--scale", "1"],
    "startup": ["--repeats", "1"],
    "end_to_end": ["--seconds", "3", "--latency-seconds", "2"],
}
# create_path's own default is 5 s per point (51 s in all); 3 s keeps the whole run short.
# timer_accuracy swings with the machine's load from run to run: the median of 3 is reported.
DEFAULT = {"create_path": ["--seconds", "3"], "api": ["--seconds", "3"],
           "mail_intake": ["--seconds", "3"],
           "timer_accuracy": ["--runs", "3"]}


def bench_postgres_homes() -> set[Path]:
    """Homes of running embedded PostgreSQL servers in bench-pg-* temp dirs (create_path's)."""
    homes = set()
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if cmd and cmd[0].endswith("postgres") and "-D" in cmd:
            datadir = Path(cmd[cmd.index("-D") + 1])
            if datadir.parent.name.startswith("bench-pg-"):
                homes.add(datadir.parent)
    return homes


def run_module(name: str, args: list[str]) -> tuple[dict[str, Any] | None, float]:
    """Run `python -m bench.<name>` (output streamed) and load the JSON it wrote."""
    before_homes = bench_postgres_homes()
    path = RESULTS / f"{name}.json"
    before = path.stat().st_mtime if path.exists() else 0.0
    start = time.perf_counter()
    print(f"\n=== {name} {' '.join(args)}", flush=True)
    code = subprocess.call([sys.executable, "-m", f"bench.{name}", *args], cwd=ROOT)
    elapsed = time.perf_counter() - start
    # create_path stops its PostgreSQL with ticketing.db.embedded.stop_embedded_postgres, which
    # leaves it running: stop the one this run started.
    for home in bench_postgres_homes() - before_homes:
        stop_postgres(home)
    if code != 0 or not path.exists() or path.stat().st_mtime <= before:
        print(f"!!! {name} failed (exit {code})", flush=True)
        return None, elapsed
    return json.loads(path.read_text()), elapsed


def headline(name: str, r: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures that matter, one row each: value, baseline, ratio, goal."""
    rows: list[dict[str, Any]] = []

    def add(metric: str, value: float | None, unit: str, *, baseline: str = "",
            ratio: float | None = None, goal: str = "", ok: bool | None = None) -> None:
        rows.append({"benchmark": name, "metric": metric, "value": value, "unit": unit,
                     "baseline": baseline, "ratio": ratio, "goal": goal, "ok": ok})

    if name == "create_path":
        for row in r["rows"]:
            serial = row["concurrency"] == 1
            add(f"service create c={row['concurrency']}", row["service_per_s"], "/s",
                baseline=f"raw asyncpg {row['raw_per_s']:.0f}/s",
                ratio=row["ratio_same_concurrency"], goal=">= 0.8" if serial else "",
                ok=row["ratio_same_concurrency"] >= 0.8 if serial else None)
            add(f"  same c vs its 5-row statement alone ({row['five_rows_vs_raw']:.2f} of raw)",
                row["service_per_s"], "/s",
                baseline=f"5 rows {row['five_rows_per_s']:.0f}/s",
                ratio=row["ratio_vs_five_rows"])
    elif name == "api":
        for row in r["rows"]:
            http, service = row["http_latency_s"], row["service_latency_s"]
            add(f"HTTP create c={row['concurrency']} (p50/p99 {http['p50'] * 1000:.1f}/"
                f"{http['p99'] * 1000:.1f} ms)", row["http_per_s"], "/s",
                baseline=f"service {row['service_per_s']:.0f}/s (p50/p99 "
                f"{service['p50'] * 1000:.1f}/{service['p99'] * 1000:.1f} ms)",
                ratio=row["ratio"], goal=f">= {r['goal_ratio']}",
                ok=row["ratio"] >= r["goal_ratio"])
    elif name == "desk":
        for row in r["rows"]:
            desk, api = row["desk_s"], row["api_s"]
            add(f"desk {row['case']} at {r['tickets']} tickets (p50 {desk['p50'] * 1000:.1f} ms)",
                desk["p95"] * 1000, "ms p95",
                baseline=f"API {api['p50'] * 1000:.1f}/{api['p95'] * 1000:.1f} ms p50/p95",
                ratio=desk["p95"] / api["p95"], goal=f"<= {r['goal_p95_s'] * 1000:.0f} ms",
                ok=row["ok"])
    elif name == "mail_intake":
        for row in r["rows"]:
            smtp, http = row["smtp_latency_s"], row["http_latency_s"]
            add(f"SMTP intake c={row['concurrency']} (p50/p99 {smtp['p50'] * 1000:.1f}/"
                f"{smtp['p99'] * 1000:.1f} ms)", row["smtp_per_s"], "msg/s",
                baseline=f"HTTP create {row['http_per_s']:.0f}/s (p50/p99 "
                f"{http['p50'] * 1000:.1f}/{http['p99'] * 1000:.1f} ms)",
                ratio=row["ratio"], goal=f">= {r['goal_ratio']}",
                ok=row["ratio"] >= r["goal_ratio"])
    elif name == "end_to_end":
        inline, deferred = r["rows"]
        goals = r["goals"]
        add(f"HTTP create c=1, watcher after the response "
            f"(p99 {deferred['c1_http_p99_ms']:.1f} ms)",
            deferred["c1_http_p50_ms"], "ms p50",
            baseline=f"watcher in the request {inline['c1_http_p50_ms']:.1f} ms",
            ratio=r["ratios"]["c1_http_p50"], goal=f"<= {goals['c1_http_p50_ms']:.0f} ms",
            ok=deferred["c1_http_p50_ms"] <= goals["c1_http_p50_ms"])
        lag = deferred["watcher_lag_s"]["p99"]
        add("  watcher running after the commit, c=1", lag, "s p99",
            baseline=f"in the request {inline['watcher_lag_s']['p99']:.3f} s",
            goal=f"<= {goals['watcher_lag_p99_s']:.0f} s",
            ok=lag is not None and lag <= goals["watcher_lag_p99_s"])
        load = deferred["load"]
        add(f"whole ticket c={load['concurrency']} for {load['seconds']:.0f} s"
            f" (+{deferred['tail_s']:.0f} s until every watcher and notice)",
            deferred["end_to_end_per_s"], "tickets/s",
            baseline=f"watcher in the request {inline['end_to_end_per_s']:.1f}/s",
            ratio=r["ratios"]["end_to_end_rate"])
        add("  CPU per whole ticket, all processes", deferred["cpu_ms_per_ticket_total"], "ms",
            baseline=f"watcher in the request {inline['cpu_ms_per_ticket_total']:.1f} ms",
            ratio=r["ratios"]["cpu_per_ticket"], goal=f"<= {goals['cpu_ms_per_ticket']:.0f} ms",
            ok=deferred["cpu_ms_per_ticket_total"] <= goals["cpu_ms_per_ticket"])
    elif name == "threshold_cost":
        base = r["rows"][0]
        for row in r["rows"][1:]:
            add(f"{row['step']} activity CPU", row["cpu_ms"], "ms",
                baseline=f"create_ticket {base['cpu_ms']:.2f} ms", ratio=row["cpu_vs_create"])
    elif name == "workflow_path":
        base = f"trivial {r['baseline_per_s']:.1f}/s"
        for row in r["rows"]:
            if row["variant"] in ("trivial", "trivial_again"):
                continue
            product = row["variant"] in ("onboarding", "installation")
            ratio = row["ratio_vs_trivial"]
            add(f"{row['variant']} (p95 {row['latency_s']['p95'] * 1000:.0f} ms)",
                row["per_s"], "/s", baseline=base, ratio=ratio,
                goal=">= 0.8" if product else "",
                ok=(ratio >= r["goal_ratio"]) if product else None)
            if product:
                wf = row["ratio_counting_workflows"]
                add(f"{row['variant']} counting 2 workflows", 2 * row["per_s"], "wf/s",
                    baseline=base, ratio=wf, goal=">= 0.8", ok=wf >= r["goal_ratio"])
    elif name == "watchers":
        add(f"start {r['watchers']} watchers", r["start_per_s"], "/s")
        add("arm (snapshot activity + timer)", r["armed_per_s"], "/s",
            baseline=f"all {r['armed']} armed")
        for proc in ("server", "worker"):
            add(f"{proc} RSS per watcher", r["rss_kb_per_watcher"][proc], "KB",
                baseline=f"{r['rss_baseline_mb'][proc]:.0f} MB idle")
        add("worker peak RSS", r["rss_peak_mb"]["worker"], "MB",
            baseline=f"cache {r['max_cached_workflows']}")
        for proc in ("server", "worker"):
            before = r["idle_cpu_cores_before"][proc] * 100
            after = r["idle_cpu_cores_after"][proc] * 100
            add(f"{proc} idle CPU, all armed", after, "% core",
                baseline=f"{before:.1f}% with 0 watchers", goal="~0", ok=after < 5)
    elif name == "timer_accuracy":
        fr = r["first_response"]
        runs = r.get("runs", [])
        if len(runs) > 1:
            per_run = ", ".join(f"{x['first_response_recorded_p99_s']:.2f}" for x in runs)
            add(f"runs: first_response recorded_at p99 per run ({per_run})",
                len(runs), "runs", baseline="median run reported")
        for key, label in (("recorded_late_s", "recorded_at"), ("visible_late_s", "visible")):
            s = fr[key]
            add(f"first_response {label} late p99 (p50 {s['p50'] or 0:.2f}, max "
                f"{s['max'] or 0:.2f})", s["p99"], "s", baseline="due_at", goal="<= 1 s",
                ok=s["p99"] is not None and s["p99"] <= r["goal_p99_s"]
                and s["n"] == r["tickets"])
        esc = r["escalation"]
        add(f"last escalation after last due ({esc['count']}/{r['tickets']})",
            esc["last_visible_after_last_due_s"], "s", baseline="last resolution due_at")
    elif name == "startup":
        for row in r["rows"]:
            if row["variant"] == "raw":
                add("raw temporal start-dev", row["ready_s"], "s")
                continue
            add(f"{row['variant']} ready", row["ready_s"], "s",
                baseline="raw start-dev", ratio=row["ratio_vs_raw"])
    return rows


def print_summary(rows: list[dict[str, Any]], info: dict[str, Any]) -> None:
    print("\n=== summary")
    print(f"machine: {info['cores']} cores, Python {info['python']}, temporalio "
          f"{info['temporalio']}, {info['temporal_cli']}, PostgreSQL {info['postgres']}")
    print(f"{'benchmark':<15} {'metric':<50} {'value':>10} {'unit':<6} {'ratio':>6} "
          f"{'goal':<7} {'ok':<4} baseline")
    for row in rows:
        value = "-" if row["value"] is None else f"{row['value']:.2f}"
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}"
        ok = "" if row["ok"] is None else ("yes" if row["ok"] else "NO")
        print(f"{row['benchmark']:<15} {row['metric'][:50]:<50} {value:>10} {row['unit']:<6} "
              f"{ratio:>6} {row['goal']:<7} {ok:<4} {row['baseline']}")


def plot(results: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    ax = axes[0][0]
    if r := results.get("create_path"):
        labels = [str(row["concurrency"]) for row in r["rows"]]
        ax.bar(labels, [row["ratio_same_concurrency"] for row in r["rows"]])
        ax.set_title("create_path: service / raw asyncpg")
        ax.set_xlabel("concurrency")
        ax.set_ylabel("ratio")
    ax = axes[0][1]
    if r := results.get("workflow_path"):
        names = [row["variant"] for row in r["rows"]]
        ax.bar(names, [row["ratio_vs_trivial"] for row in r["rows"]], label="per run")
        wf = [row.get("ratio_counting_workflows") or 0 for row in r["rows"]]
        ax.bar(names, wf, alpha=0.4, label="counting escalation workflows")
        ax.axhline(r["goal_ratio"], color="red", linestyle="--", label="goal 0.8")
        ax.set_title(f"workflow_path: / trivial ({r['baseline_per_s']:.1f}/s), "
                     f"c={r['concurrency']}")
        ax.tick_params(axis="x", rotation=30)
        ax.legend(fontsize=8)
    ax = axes[0][2]
    if r := results.get("timer_accuracy"):
        groups = [("FR recorded", r["first_response"]["recorded_late_s"]),
                  ("FR visible", r["first_response"]["visible_late_s"]),
                  ("res. visible", r["resolution"]["visible_late_s"]),
                  ("escalated", r["escalation"]["visible_after_due_s"])]
        xs = range(len(groups))
        for offset, q in ((-0.25, "p50"), (0, "p99"), (0.25, "max")):
            ax.bar([x + offset for x in xs], [g[1][q] or 0 for g in groups], width=0.25,
                   label=q)
        ax.set_xticks(list(xs), [g[0] for g in groups])
        ax.axhline(r["goal_p99_s"], color="red", linestyle="--", label="goal p99 1 s")
        ax.set_title(f"timer_accuracy: s late, {r['tickets']} tickets")
        ax.legend(fontsize=8)
    ax = axes[1][0]
    if r := results.get("watchers"):
        points = r["rss_checkpoints"]
        ax.plot([0] + [p["armed"] for p in points],
                [r["rss_baseline_mb"]["worker"]] + [p["worker_mb"] for p in points],
                marker="o", label="worker")
        ax.plot([0] + [p["armed"] for p in points],
                [r["rss_baseline_mb"]["server"]] + [p["server_mb"] for p in points],
                marker="o", label="dev server")
        ax.set_title(f"watchers: RSS (MB) vs armed watchers, cache {r['max_cached_workflows']}")
        ax.set_xlabel("armed watchers")
        ax.legend(fontsize=8)
    ax = axes[1][1]
    if r := results.get("watchers"):
        names = ["server", "worker"]
        xs = range(2)
        ax.bar([x - 0.2 for x in xs], [r["idle_cpu_cores_before"][n] * 100 for n in names],
               width=0.4, label="0 watchers")
        ax.bar([x + 0.2 for x in xs], [r["idle_cpu_cores_after"][n] * 100 for n in names],
               width=0.4, label=f"{r['watchers']} watchers")
        ax.set_xticks(list(xs), names)
        ax.set_title("watchers: idle CPU (% of a core)")
        ax.legend(fontsize=8)
    ax = axes[1][2]
    if r := results.get("startup"):
        ax.bar([row["variant"] for row in r["rows"]], [row["ready_s"] for row in r["rows"]])
        ax.set_title("startup: seconds to ready (median)")
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    results: dict[str, dict[str, Any]] = {}
    elapsed: dict[str, float] = {}
    failed: list[str] = []
    for name in names:
        extra = QUICK.get(name, []) if args.quick else DEFAULT.get(name, [])
        result, elapsed[name] = run_module(name, extra)
        if result is None:
            failed.append(name)
        else:
            results[name] = result
    # Benchmarks not run this time keep their last results in the summary.
    for name in BENCHMARKS:
        path = RESULTS / f"{name}.json"
        if name not in results and path.exists():
            results[name] = json.loads(path.read_text())
    postgres = next((r["machine"].get("postgres") or r.get("postgres") for r in results.values()
                     if r.get("machine", {}).get("postgres") or r.get("postgres")), None)
    info = machine(postgres)
    rows = [row for name in BENCHMARKS if name in results
            for row in headline(name, results[name])]
    print_summary(rows, info)
    summary = {"machine": info, "ran": names, "quick": args.quick,
               "seconds": elapsed, "failed": failed, "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    plot(results, RESULTS / "summary.png")
    print(f"\nwrote {RESULTS / 'summary.json'} and {RESULTS / 'summary.png'}; "
          f"took {sum(elapsed.values()):.0f} s")
    if failed:
        print(f"FAILED: {', '.join(failed)} (their last results, if any, are summarised)")
        sys.exit(1)


if __name__ == "__main__":
    main()
