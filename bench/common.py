"""Shared set-up for the Temporal benchmarks: one stack per run, measured processes, stats.

A `Stack` is an embedded PostgreSQL + the tuned Temporal dev server (ticketing_ops.devstack) + a
bench worker in its own process (bench.worker_proc: the product's workflows and activities with
the product's worker options, plus the trivial baselines), so psutil can measure the server and
the worker separately from the load generator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from ticketing.db.engine import make_engine, make_sessionmaker, migrate_async
from ticketing.runtime.settings import Settings
from ticketing_ops.devstack import TemporalDevServer, find_free_port, temporal_cli

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).parent.parent


def temporal_version() -> str:
    try:
        out = subprocess.run([str(temporal_cli()), "--version"], capture_output=True,
                             text=True, timeout=20, check=False)
        return out.stdout.strip()
    except Exception as exc:  # noqa: BLE001 - report, don't fail the run
        return f"unknown ({exc})"


def machine(postgres: str | None = None) -> dict[str, Any]:
    import temporalio

    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "temporalio": temporalio.__version__,
        "temporal_cli": temporal_version(),
        "postgres": postgres,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50": pct(values, 50),
        "p95": pct(values, 95),
        "p99": pct(values, 99),
        "max": max(values) if values else None,
        "mean": statistics.fmean(values) if values else None,
    }


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    return path


def stop_postgres(home: Path, timeout: float = 20.0) -> None:
    """Stop the embedded PostgreSQL under `home` (fast shutdown of its postmaster, by pid).

    ticketing.db.embedded.stop_embedded_postgres leaves the server running (pgserver hands back
    the cached cleanup_mode=None instance), so the benchmarks stop it themselves.
    """
    pidfile = home / "pgdata" / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().split()[0])
        process = psutil.Process(pid)
    except (OSError, ValueError, IndexError, psutil.Error):
        return
    with contextlib.suppress(psutil.Error):
        if "postgres" in process.name():
            process.send_signal(signal.SIGINT)
            process.wait(timeout)


def quiet_logging() -> None:
    """WARNING and up: a log line per ticket would be part of the measurement."""
    from ticketing.runtime.logging import configure_logging

    configure_logging(level="WARNING")


class ProcessMeter:
    """RSS and CPU time of a process and (unless `alone`) its children."""

    def __init__(self, pid: int, *, alone: bool = False) -> None:
        self.process = psutil.Process(pid)
        self.alone = alone

    def _all(self) -> list[psutil.Process]:
        if self.alone:
            return [self.process]
        with contextlib.suppress(psutil.Error):
            return [self.process, *self.process.children(recursive=True)]
        return [self.process]

    def rss(self) -> int:
        total = 0
        for proc in self._all():
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self._all():
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        return total


async def cpu_over(meters: dict[str, ProcessMeter], seconds: float) -> dict[str, float]:
    """CPU used by each process over `seconds` of wall time, as a fraction of one core."""
    before = {name: meter.cpu_seconds() for name, meter in meters.items()}
    start = time.perf_counter()
    await asyncio.sleep(seconds)
    wall = time.perf_counter() - start
    return {name: (meter.cpu_seconds() - before[name]) / wall for name, meter in meters.items()}


class Stack:
    """Embedded PostgreSQL + tuned dev server + a bench worker process, all under a temp home."""

    def __init__(self, *, task_queue: str | None = None, settings: Settings | None = None,
                 worker_env: dict[str, str] | None = None,
                 commit_timestamps: bool = False) -> None:
        self.commit_timestamps = commit_timestamps
        self.home = Path(tempfile.mkdtemp(prefix="bench-stack-"))
        queue = task_queue or f"bench-{uuid.uuid4().hex[:6]}"
        self.settings = settings or Settings(task_queue=queue)
        self.worker_env = worker_env or {}
        self.database_url = ""
        self.server: TemporalDevServer | None = None
        self.client: Client | None = None
        self.engine: AsyncEngine | None = None
        self.sessions: async_sessionmaker[AsyncSession] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.progress_file = self.home / "worker-progress.json"
        self.worker_log = self.home / "worker.log"
        self.postgres_version = ""

    @property
    def task_queue(self) -> str:
        return self.settings.task_queue

    def server_meter(self) -> ProcessMeter:
        assert self.server is not None and self.server._process is not None
        return ProcessMeter(self.server._process.pid)

    def worker_meter(self) -> ProcessMeter:
        assert self.worker is not None
        return ProcessMeter(self.worker.pid)

    def postgres_meter(self) -> ProcessMeter:
        """The postmaster and its backends."""
        pid = int((self.home / "pgdata" / "postmaster.pid").read_text().split()[0])
        return ProcessMeter(pid)

    def meters(self) -> dict[str, ProcessMeter]:
        """Every process of the run: server, worker, PostgreSQL and this driver itself."""
        return {"server": self.server_meter(), "worker": self.worker_meter(),
                "postgres": self.postgres_meter(), "driver": ProcessMeter(os.getpid(), alone=True)}

    def worker_progress(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.progress_file.read_text()))
        except (OSError, ValueError):
            return {}

    async def __aenter__(self) -> Stack:
        from ticketing.db.embedded import embedded_postgres_url
        from ticketing.temporal.client import connect_client

        try:
            self.database_url = await asyncio.to_thread(embedded_postgres_url, self.home)
            if self.commit_timestamps:
                await self._track_commit_timestamps()
            await migrate_async(self.database_url)
            self.server = TemporalDevServer(self.home, port=find_free_port(), headless=True)
            await self.server.start()
            self.client = await connect_client(self.settings, target_host=self.server.target_host)
            self.engine = make_engine(self.database_url, Settings(db_pool_size=20))
            self.sessions = make_sessionmaker(self.engine)
            async with self.engine.connect() as connection:
                self.postgres_version = str(
                    (await connection.execute(text("SHOW server_version"))).scalar_one()
                )
            await self._start_worker()
        except BaseException:
            await self.close()
            raise
        return self

    async def _track_commit_timestamps(self) -> None:
        """Turn on track_commit_timestamp (a restart): pg_xact_commit_timestamp(xmin) then says
        when each row became visible, with no poller loading the machine under measurement."""
        import asyncpg

        from ticketing.db.embedded import embedded_pg_ctl

        dsn = self.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        connection = await asyncpg.connect(dsn)
        await connection.execute("ALTER SYSTEM SET track_commit_timestamp = on")
        await connection.close()
        # -l: the restarted postmaster must not hold pg_ctl's output pipe open.
        log = (self.home / "pgdata").resolve() / "restart.log"
        await asyncio.to_thread(
            embedded_pg_ctl, self.home, ["-w", "-m", "fast", "-l", str(log), "restart"])

    async def _start_worker(self) -> None:
        assert self.server is not None
        env = {**os.environ, **self.worker_env, "PYTHONUNBUFFERED": "1"}
        log = self.worker_log.open("wb")
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "bench.worker_proc", "--target", self.server.target_host,
             "--database-url", self.database_url, "--task-queue", self.task_queue,
             "--progress-file", str(self.progress_file)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.worker.poll() is not None:
                raise RuntimeError(f"bench worker exited:\n{self.worker_log.read_text()[-3000:]}")
            if self.worker_progress().get("ready"):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"bench worker not ready:\n{self.worker_log.read_text()[-3000:]}")

    async def close(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.worker.wait, 30)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                await asyncio.to_thread(self.worker.wait)
        if self.engine is not None:
            await self.engine.dispose()
        if self.server is not None:
            await self.server.stop()
        if self.database_url:
            await asyncio.to_thread(stop_postgres, self.home)
        shutil.rmtree(self.home, ignore_errors=True)

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


@contextlib.asynccontextmanager
async def stack(**kwargs: Any) -> AsyncIterator[Stack]:
    async with Stack(**kwargs) as running:
        yield running


@contextlib.contextmanager
def bench_database(url: str | None) -> Iterator[str]:
    """The database a bench runs on: `url` as given, or a fresh embedded PostgreSQL in a
    temporary home, stopped when the bench ends."""
    if url:
        yield url
        return
    from ticketing.db.embedded import embedded_postgres_url

    home = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    try:
        yield embedded_postgres_url(home)
    finally:
        stop_postgres(home)
