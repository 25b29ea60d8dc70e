"""The bench worker process: the product's workflows and activities with the product's worker
options (worker.build_worker), plus the baseline workflows of bench.trivial on the same worker.

Run by bench.common.Stack; writes `{"ready": true, "completed": {activity: n}}` to
--progress-file every 0.25 s so the driver can tell when work has drained.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from bench.common import quiet_logging
from bench.trivial import BASELINE_WORKFLOWS, noop
from ticketing.db.engine import make_engine, make_sessionmaker
from ticketing.runtime.heap import freeze_startup_heap
from ticketing.runtime.settings import Settings
from ticketing.temporal.client import connect_client
from worker import build_worker

COMPLETED: Counter[str] = Counter()
GC = {"collections": 0, "seconds": 0.0, "longest": 0.0}
_gc_started = 0.0


def _time_gc(phase: str, info: dict[str, Any]) -> None:
    """Time the cyclic garbage collector: its pauses stop every workflow and activity."""
    global _gc_started
    if phase == "start":
        _gc_started = time.perf_counter()
        return
    took = time.perf_counter() - _gc_started
    GC["collections"] += 1
    GC["seconds"] += took
    GC["longest"] = max(GC["longest"], took)


class _CountingActivities(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        result = await super().execute_activity(input)
        COMPLETED[activity.info().activity_type] += 1
        return result


class CountActivities(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _CountingActivities(next)


async def run(args: argparse.Namespace) -> None:
    settings = Settings(task_queue=args.task_queue)
    client = await connect_client(settings, target_host=args.target)
    engine = make_engine(args.database_url, settings)
    worker = build_worker(
        client,
        make_sessionmaker(engine),
        settings,
        extra_workflows=BASELINE_WORKFLOWS,
        extra_activities=[noop],
        interceptors=[CountActivities()],
    )
    freeze_startup_heap()  # as worker.run_worker does
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    progress = Path(args.progress_file)
    sampler = None
    if os.environ.get("BENCH_PROFILE"):
        from bench.sampler import Sampler

        sampler = Sampler(os.environ["BENCH_PROFILE"])
        sampler.start()
    try:
        async with worker:
            while not stop.is_set():
                state = {"ready": True, "completed": dict(COMPLETED), "gc": GC,
                         "max_cached_workflows": settings.max_cached_workflows}
                tmp = progress.with_suffix(".tmp")
                tmp.write_text(json.dumps(state))
                tmp.replace(progress)
                try:
                    await asyncio.wait_for(stop.wait(), 0.25)
                except TimeoutError:
                    pass
    finally:
        if sampler is not None:
            sampler.stop()
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--progress-file", required=True)
    args = parser.parse_args()
    quiet_logging()
    gc.callbacks.append(_time_gc)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
