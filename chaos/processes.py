"""The processes under test, each under the run's home: PostgreSQL, the Temporal dev server, the
worker (and the mail server, chaos/smtp.py)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ticketing.db.embedded import (
    embedded_postgres_running,
    embedded_postgres_url,
    stop_embedded_postgres,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TASK_QUEUE = "ticketing"


class WorkerSupervisor:
    """`python -m worker` as a child process; restarted whenever it dies unless held down."""

    def __init__(self, env: dict[str, str], logs: Path, log_event: Callable[..., None]) -> None:
        self.env = env
        self.logs = logs
        self.log_event = log_event
        self.process: subprocess.Popen[bytes] | None = None
        self.held = False
        self.spawns = 0
        self.spawned_at = 0.0
        self.unexpected_exits: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def spawn(self) -> None:
        self.spawns += 1
        self.spawned_at = time.monotonic()
        log = open(self.logs / f"worker-{self.spawns:02d}.log", "wb")  # noqa: SIM115
        with log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "worker"],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def start(self) -> None:
        self.spawn()
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while not self._closing:
            await asyncio.sleep(0.2)
            process = self.process
            if self.held or process is None or process.poll() is None:
                continue
            tail = self._log_tail(self.spawns)
            lived = time.monotonic() - self.spawned_at
            self.unexpected_exits.append(
                f"pid {process.pid} rc={process.returncode} after {lived:.1f}s: {tail}"
            )
            self.log_event("worker_exit", f"worker pid {process.pid} exited rc="
                           f"{process.returncode} on its own after {lived:.1f}s; restarting "
                           f"({tail[-160:]})")
            await asyncio.sleep(1.0)
            if not self.held and not self._closing:
                self.spawn()

    def _log_tail(self, spawn: int) -> str:
        try:
            lines = (self.logs / f"worker-{spawn:02d}.log").read_text(errors="replace")
        except OSError:
            return ""
        return " | ".join(lines.strip().splitlines()[-3:])[-600:]

    async def kill(self) -> int | None:
        """SIGKILL the worker and keep it down until `resume`."""
        self.held = True
        process = self.process
        if process is None or process.poll() is not None:
            return None
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait)
        return process.pid

    def resume(self) -> int:
        self.held = False
        if self.process is None or self.process.poll() is not None:
            self.spawn()
        assert self.process is not None
        return self.process.pid

    async def stop(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)


class EmbeddedPostgres:
    """The embedded cluster under `<home>/pgdata`, stopped and started again exactly as the
    product starts it (`ticketing.db.embedded`): same server user and groups, umask, socket
    directory and password, so a restart is the one an operator's restart would be."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.url = ""

    def start(self) -> str:
        self.url = embedded_postgres_url(self.home)
        return self.url

    def stop(self) -> None:
        stop_embedded_postgres(self.home)

    def running(self) -> bool:
        return embedded_postgres_running(self.home)
