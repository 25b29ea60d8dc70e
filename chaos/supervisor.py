"""A child process of the run (a worker, the API, the mail intake), restarted whenever it dies
unless a fault holds it down; every spawn logs to `<home>/<name>-NN.log`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Supervisor:
    """`argv` as a child process in its own session; restarted whenever it dies unless held."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], logs: Path,
        log_event: Callable[..., None],
    ) -> None:
        self.name = name
        self.argv = argv
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
        log = open(self.logs / f"{self.name}-{self.spawns:02d}.log", "wb")  # noqa: SIM115
        with log:
            self.process = subprocess.Popen(
                self.argv,
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
            tail = self.log_tail(self.spawns)
            lived = time.monotonic() - self.spawned_at
            self.unexpected_exits.append(
                f"pid {process.pid} rc={process.returncode} after {lived:.1f}s: {tail}"
            )
            self.log_event(f"{self.name}_exit", f"{self.name} pid {process.pid} exited rc="
                           f"{process.returncode} on its own after {lived:.1f}s; restarting "
                           f"({tail[-160:]})")
            await asyncio.sleep(1.0)
            if not self.held and not self._closing:
                self.spawn()

    def log_tail(self, spawn: int) -> str:
        try:
            lines = (self.logs / f"{self.name}-{spawn:02d}.log").read_text(errors="replace")
        except OSError:
            return ""
        return " | ".join(lines.strip().splitlines()[-3:])[-600:]

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def children(self) -> list[int]:
        """The pids of the process's spawned children (uvicorn's worker processes; not
        multiprocessing's resource tracker, also a child)."""
        if not self.alive():
            return []
        assert self.process is not None
        found = []
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.process.pid).children():
                with contextlib.suppress(psutil.Error):
                    if "spawn_main" in " ".join(child.cmdline()):
                        found.append(child.pid)
        return found

    async def kill_child(self) -> int | None:
        """SIGKILL one child (a uvicorn worker process); the parent is to restart it."""
        children = self.children()
        if not children:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.kill(children[0], signal.SIGKILL)
        return children[0]

    async def kill(self) -> int | None:
        """SIGKILL the process and everything it started (its session), and keep it down
        until `resume`: a crash of the machine or container it runs in."""
        self.held = True
        process = self.process
        if process is None or process.poll() is not None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await asyncio.to_thread(process.wait)
        await self._reap_group(process.pid)
        return process.pid

    async def _reap_group(self, pgid: int) -> None:
        """Until no process of the killed session is left (a uvicorn child holds the port)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            left = [p for p in psutil.process_iter(["pid", "status"])
                    if p.info["status"] != psutil.STATUS_ZOMBIE and _pgid(p.pid) == pgid]
            if not left:
                return
            await asyncio.sleep(0.1)

    def resume(self) -> int:
        self.held = False
        if not self.alive():
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
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await asyncio.to_thread(process.wait)
            await self._reap_group(process.pid)


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None
