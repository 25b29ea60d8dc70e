"""The faults: the planned schedule played against the stack, each logged with its downtime."""

from __future__ import annotations

import asyncio
import time

from chaos.plan import Clock, Fault
from chaos.processes import Stack
from chaos.report import FaultEvent


class FaultInjector:
    """Runs the schedule against the stack; `windows` dates each fault for the SLA checks."""

    def __init__(self, stack: Stack, clock: Clock, events: list[FaultEvent]) -> None:
        self.stack = stack
        self.clock = clock
        self.events = events
        # Wall clock of each fault's stretch, to date the recorded SLA thresholds against.
        self.windows: list[tuple[float, float]] = []

    async def inject(self, plan: list[Fault]) -> None:
        worker, postgres, sink = self.stack.worker, self.stack.postgres, self.stack.sink
        assert worker is not None
        for at, kind, downtime in plan:
            await asyncio.sleep(max(0.0, self.clock.t0 + at - time.monotonic()))
            began = time.monotonic()
            if kind == "worker_kill":
                pid = await worker.kill()
                await asyncio.sleep(downtime)
                new_pid = worker.resume()
                detail = f"SIGKILL worker pid {pid}; restarted as pid {new_pid}"
            elif kind == "postgres_restart":
                await asyncio.to_thread(postgres.stop)
                await asyncio.sleep(downtime)
                await asyncio.to_thread(postgres.start)
                detail = "pg_ctl stop -m fast; started again on the same datadir and socket"
            elif kind == "smtp_down":
                await sink.stop()
                await asyncio.sleep(downtime)
                await sink.start()
                detail = "mail server down (connection refused); started again on its port"
            elif kind == "smtp_slow":
                sink.delay = 2.0
                await asyncio.sleep(downtime)
                sink.delay = 0.0
                detail = "mail server slow: 2 s per message"
            else:
                await self.stack.temporal.stop()
                await asyncio.sleep(downtime)
                await self.stack.start_temporal()
                detail = "dev server stopped (SIGTERM); restarted on its temporal.db"
            self.windows.append(
                (self.clock.wall(began), self.clock.wall(time.monotonic()))
            )
            self.events.append(
                FaultEvent(round(self.clock.since_t0(began), 2), kind, detail,
                           round(time.monotonic() - began, 2))
            )
