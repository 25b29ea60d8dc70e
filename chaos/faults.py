"""The faults: the planned schedule played against the stack, each logged with its downtime."""

from __future__ import annotations

import asyncio
import time

from chaos.plan import Clock, Fault
from chaos.processes import Stack, port_open
from chaos.report import FaultEvent


class FaultInjector:
    """Runs the schedule against the stack; `windows` dates each fault for the SLA checks."""

    def __init__(self, stack: Stack, clock: Clock, events: list[FaultEvent]) -> None:
        self.stack = stack
        self.clock = clock
        self.events = events
        # Wall clock of each fault's stretch, to date the recorded SLA thresholds against.
        self.windows: list[tuple[float, float]] = []
        self.worker_kills = 0
        self.background: list[asyncio.Task[None]] = []

    async def inject(self, plan: list[Fault]) -> None:
        for at, kind, downtime in plan:
            await asyncio.sleep(max(0.0, self.clock.t0 + at - time.monotonic()))
            began = time.monotonic()
            detail = await self.one(kind, downtime)
            self.windows.append(
                (self.clock.wall(began), self.clock.wall(time.monotonic()))
            )
            self.events.append(
                FaultEvent(round(self.clock.since_t0(began), 2), kind, detail,
                           round(time.monotonic() - began, 2))
            )
        await asyncio.gather(*self.background)

    async def one(self, kind: str, downtime: float) -> str:
        stack, postgres, sink = self.stack, self.stack.postgres, self.stack.sink
        if kind == "worker_kill":
            # The workers in turn: one dies while the other goes on polling the queue.
            worker = stack.workers[self.worker_kills % len(stack.workers)]
            self.worker_kills += 1
            pid = await worker.kill()
            await asyncio.sleep(downtime)
            return f"SIGKILL {worker.name} pid {pid}; restarted as pid {worker.resume()}"
        if kind in ("api_kill", "mail_kill"):
            process = stack.api if kind == "api_kill" else stack.mail
            assert process is not None
            pid = await process.kill()
            await asyncio.sleep(downtime)
            new_pid = process.resume()
            port = stack.api_port if kind == "api_kill" else stack.mail_port
            self.background.append(asyncio.create_task(self.ready(process.name, port)))
            return (f"SIGKILL {process.name} pid {pid} and its children (its session); "
                    f"restarted as pid {new_pid}")
        if kind == "api_child_kill":
            return await self.kill_api_child()
        if kind == "postgres_restart":
            await asyncio.to_thread(postgres.stop)
            await asyncio.sleep(downtime)
            await asyncio.to_thread(postgres.start)
            return "pg_ctl stop -m fast; started again on the same datadir and socket"
        if kind == "smtp_down":
            await sink.stop()
            await asyncio.sleep(downtime)
            await sink.start()
            return "mail server down (connection refused); started again on its port"
        if kind == "smtp_slow":
            sink.delay = 2.0
            await asyncio.sleep(downtime)
            sink.delay = 0.0
            return "mail server slow: 2 s per message"
        await stack.temporal.stop()
        await asyncio.sleep(downtime)
        await stack.start_temporal()
        return "dev server stopped (SIGTERM); restarted on its temporal.db"

    async def ready(self, name: str, port: int) -> None:
        """Logs how long a restarted process took to accept connections again."""
        began = time.monotonic()
        process = self.stack.api if name == "api" else self.stack.mail
        assert process is not None
        children_at: float | None = None
        while time.monotonic() - began < 120 and not port_open(port):
            if children_at is None and process.children():
                children_at = time.monotonic() - began
            await asyncio.sleep(0.2)
        waited = time.monotonic() - began
        spawned = "" if children_at is None else f" (its workers spawned at {children_at:.1f} s)"
        self.events.append(FaultEvent(
            round(self.clock.since_t0(began), 2), f"{name}_ready",
            f"{name}'s port accepts connections {waited:.1f} s after the restart{spawned}"
            if port_open(port) else f"{name}'s port still closed after {waited:.0f} s",
        ))

    async def kill_api_child(self) -> str:
        """SIGKILL one uvicorn worker process; uvicorn's parent is to start another. Waits
        (up to 30 s) until the parent has all its children again and the port answers."""
        api = self.stack.api
        assert api is not None
        wanted = self.stack.config.api_workers
        # A restarted API may still be starting: the fault is on a serving uvicorn.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
            len(api.children()) >= wanted and port_open(self.stack.api_port)
        ):
            await asyncio.sleep(0.2)
        before = api.children()
        pid = await api.kill_child()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            after = api.children()
            if pid not in after and len(after) >= wanted and port_open(self.stack.api_port):
                new = sorted(set(after) - set(before))
                return f"SIGKILL uvicorn worker pid {pid} of {before}; uvicorn started {new}"
            await asyncio.sleep(0.2)
        return f"SIGKILL uvicorn worker pid {pid} of {before}; not replaced within 30 s"
