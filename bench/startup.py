"""Benchmark 5: `ticketing dev --headless` start-up against a raw `temporal server start-dev`.

Run: python -m bench.startup [--repeats 3]

Per repeat, in this order, each launched as a fresh process and timed from launch:
  raw           `temporal server start-dev --headless --port P` (in memory, no flags): ready when
                a Temporal client connects (GetSystemInfo answers). THE baseline.
  raw_file      the same with --db-filename in a new directory (file-backed SQLite), for context
  fresh         `ticketing dev --headless --port P` with a new, empty TICKETING_HOME
                (initdb + migrations + new temporal.db)
  reused        the same TICKETING_HOME again; the embedded PostgreSQL is still running (it
                outlives `ticketing dev` by design, cleanup_mode=None)
  reused_cold   the same TICKETING_HOME after stopping the embedded PostgreSQL
For `ticketing dev` two readiness points are taken: the "worker_started" log line, and the first
DescribeTaskQueue on task queue `ticketing` that lists a workflow poller (the worker is polling).
Ratios are `ticketing dev` (poller seen) / raw, per repeat, then the median.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from bench.common import ROOT, machine, stop_postgres, write_result
from ticketing_ops.devstack import find_free_port, temporal_cli

TICKETING = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "ticketing"
TIMEOUT = 90.0


def child_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TICKETING_", "TEMPORAL_"))}
    env.update({"TICKETING_HOME": str(home), "TICKETING_TASK_QUEUE": "ticketing",
                "TICKETING_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"})
    return env


async def stop(process: asyncio.subprocess.Process) -> None:
    """Ctrl-C like a user would; then make sure no child (the dev server) is left behind."""
    with contextlib.suppress(psutil.Error):
        children = psutil.Process(process.pid).children(recursive=True)
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()
    for child in children:
        # The embedded PostgreSQL is meant to outlive `ticketing dev`; anything else is not.
        with contextlib.suppress(psutil.Error):
            if child.is_running() and "postgres" not in child.name():
                child.terminate()
                child.wait(10)


async def until_connected(port: int, start: float, process: asyncio.subprocess.Process) -> float:
    while time.perf_counter() - start < TIMEOUT:
        if process.returncode is not None:
            raise RuntimeError(f"exited with {process.returncode}")
        try:
            await Client.connect(f"127.0.0.1:{port}")
            return time.perf_counter() - start
        except Exception:  # noqa: BLE001 - not up yet
            await asyncio.sleep(0.02)
    raise TimeoutError(f"port {port} not ready in {TIMEOUT}s")


async def raw_server(file_backed: bool) -> float:
    port = find_free_port()
    tmp = Path(tempfile.mkdtemp(prefix="bench-raw-"))
    args = [str(temporal_cli()), "server", "start-dev", "--headless", "--port", str(port),
            "--log-level", "warn"]
    if file_backed:
        args += ["--db-filename", str(tmp / "temporal.db")]
    start = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        return await until_connected(port, start, process)
    finally:
        await stop(process)
        shutil.rmtree(tmp, ignore_errors=True)


async def ticketing_dev(home: Path) -> dict[str, float]:
    port = find_free_port()
    start = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        str(TICKETING), "dev", "--headless", "--port", str(port), cwd=str(home.parent),
        env=child_env(home), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    marks: dict[str, float] = {}
    output: list[str] = []

    async def read() -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors="replace")
            output.append(line)
            now = time.perf_counter() - start
            if "stack is up" in line:
                marks.setdefault("stack_up_s", now)
            if "worker_started" in line:
                marks.setdefault("worker_started_log_s", now)

    reader = asyncio.create_task(read())
    try:
        marks["temporal_connect_s"] = await until_connected(port, start, process)
        client = await Client.connect(f"127.0.0.1:{port}")
        request = DescribeTaskQueueRequest(
            namespace="default", task_queue=TaskQueue(name="ticketing"),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW)
        while time.perf_counter() - start < TIMEOUT:
            if process.returncode is not None:
                raise RuntimeError(f"ticketing dev exited:\n{''.join(output)[-2000:]}")
            response = await client.workflow_service.describe_task_queue(request)
            if response.pollers:
                marks["worker_polling_s"] = time.perf_counter() - start
                break
            await asyncio.sleep(0.02)
        else:
            raise TimeoutError(f"no poller within {TIMEOUT}s:\n{''.join(output)[-2000:]}")
        # The log line can trail the first poll by a few ms: give it a moment.
        for _ in range(100):
            if "worker_started_log_s" in marks:
                break
            await asyncio.sleep(0.02)
        return marks
    finally:
        await stop(process)
        reader.cancel()


async def bench(repeats: int) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    for i in range(repeats):
        home = Path(tempfile.mkdtemp(prefix="bench-startup-")) / ".ticketing"
        try:
            run: dict[str, Any] = {"repeat": i}
            run["raw_s"] = await raw_server(file_backed=False)
            run["raw_file_s"] = await raw_server(file_backed=True)
            run["fresh"] = await ticketing_dev(home)
            run["reused"] = await ticketing_dev(home)
            await asyncio.to_thread(stop_postgres, home)
            run["reused_cold"] = await ticketing_dev(home)
            runs.append(run)
            print(f"  repeat {i}: raw {run['raw_s']:.2f}s fresh "
                  f"{run['fresh']['worker_polling_s']:.2f}s reused "
                  f"{run['reused']['worker_polling_s']:.2f}s reused_cold "
                  f"{run['reused_cold']['worker_polling_s']:.2f}s", flush=True)
        finally:
            await asyncio.to_thread(stop_postgres, home)
            shutil.rmtree(home.parent, ignore_errors=True)
    rows = []
    for name in ("raw", "raw_file", "fresh", "reused", "reused_cold"):
        if name.startswith("raw"):
            ready = [r[f"{name}_s"] for r in runs]
            row: dict[str, Any] = {"variant": name, "ready_s": statistics.median(ready),
                                   "all_s": ready}
        else:
            ready = [r[name]["worker_polling_s"] for r in runs]
            row = {"variant": name, "ready_s": statistics.median(ready), "all_s": ready}
            for mark in ("temporal_connect_s", "stack_up_s", "worker_started_log_s"):
                values = [r[name][mark] for r in runs if mark in r[name]]
                row[mark] = statistics.median(values) if values else None
        row["ratio_vs_raw"] = statistics.median(
            (r[f"{name}_s"] if name.startswith("raw") else r[name]["worker_polling_s"])
            / r["raw_s"] for r in runs)
        rows.append(row)
    return {"benchmark": "startup", "repeats": repeats, "rows": rows, "runs": runs,
            "ready_means": "ticketing dev: task queue `ticketing` lists a workflow poller; "
                           "raw: a client connects",
            "machine": machine()}


def print_table(r: dict[str, Any]) -> None:
    print(f"machine: {r['machine']}")
    print(f"median of {r['repeats']}; ready = {r['ready_means']}")
    print(f"{'variant':<12} {'ready s':>8} {'x raw':>6} {'temporal up':>12} {'stack up':>9} "
          f"{'log worker_started':>19}")

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    for row in r["rows"]:
        print(f"{row['variant']:<12} {row['ready_s']:>8.2f} {row['ratio_vs_raw']:>6.1f} "
              f"{fmt(row.get('temporal_connect_s')):>12} {fmt(row.get('stack_up_s')):>9} "
              f"{fmt(row.get('worker_started_log_s')):>19}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    result = asyncio.run(bench(args.repeats))
    print_table(result)
    write_result("startup", result)
    return result


if __name__ == "__main__":
    main()
