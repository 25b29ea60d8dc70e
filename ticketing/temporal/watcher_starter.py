"""The Watchers port for request paths: a new ticket's watcher starts right after the response,
not before it.

A create's durability is its commit: the ticket row is the source of truth, and its watcher
is derived from it (it reads the ticket's SLA snapshot on start and records a breach whenever
it discovers one, late or not). Waiting for Temporal's start inside the request cost the
HTTP create most of its latency. So `ensure` queues the start and returns; a few background
tasks start queued watchers at once (a burst of creates is a burst of concurrent starts, not a
queue of round trips), each with a bounded number of attempts. A start the process never made
(killed, Temporal unreachable past the attempts) is made by the reconciler within
`reconcile_every` seconds. When starts fall behind (more than `inline_above` waiting), a
request makes its own start again before answering, so an overloaded Temporal slows the API
down as it did before rather than collecting late watchers. `wake` stays immediate: it
signals-with-start, so it also starts a watcher whose queued start has not run yet, and the
queued start then finds it running.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import structlog

from ticketing.temporal.schemas import TicketInfo
from ticketing.tickets.ports import Watchers

log = structlog.get_logger(__name__)

# Starts in flight at once per process: enough to keep Temporal's frontend busy in a burst,
# few enough not to starve the requests sharing the event loop.
CONCURRENCY = 8
ATTEMPTS = 4
FIRST_BACKOFF = 0.2
# One attempt's bound: the SDK retries an unreachable server inside a call for seconds.
ATTEMPT_TIMEOUT = 5.0
# More starts waiting than this, and a request makes its own start before it answers: deferring
# only hides a backlog when Temporal and the worker cannot keep up, so past it the API slows
# to their pace again (backpressure) instead of queueing minutes of late watchers.
INLINE_ABOVE = 32
# On shutdown, queued starts get this long to land; the reconciler makes the rest.
CLOSE_GRACE = 5.0


class DeferredWatchers:
    """Watchers whose `ensure` returns at once; see the module's docstring."""

    def __init__(
        self,
        inner: Watchers,
        *,
        concurrency: int = CONCURRENCY,
        attempts: int = ATTEMPTS,
        first_backoff: float = FIRST_BACKOFF,
        attempt_timeout: float = ATTEMPT_TIMEOUT,
        inline_above: int = INLINE_ABOVE,
    ) -> None:
        self.inner = inner
        self.attempts = attempts
        self.first_backoff = first_backoff
        self.attempt_timeout = attempt_timeout
        self.inline_above = inline_above
        self.inline = 0
        self._queued: dict[uuid.UUID, TicketInfo] = {}
        self._ready = asyncio.Queue[uuid.UUID]()
        self._concurrency = concurrency
        self._runners: list[asyncio.Task[None]] = []
        self.started = 0
        self.given_up = 0

    async def ensure(self, ticket: TicketInfo) -> None:
        if not self._runners:
            self._runners = [
                asyncio.get_running_loop().create_task(self._run())
                for _ in range(self._concurrency)
            ]
        if ticket.ticket_id not in self._queued:
            if len(self._queued) >= self.inline_above:
                self.inline += 1
                await self.inner.ensure(ticket)
                return
            self._ready.put_nowait(ticket.ticket_id)
        # The newest view of the ticket is the one its watcher starts from.
        self._queued[ticket.ticket_id] = ticket

    async def wake(self, ticket: TicketInfo) -> None:
        await self.inner.wake(ticket)

    async def drained(self) -> None:
        """Until every start queued so far was made or given up (tests, shutdown)."""
        await self._ready.join()

    @contextlib.asynccontextmanager
    async def lifetime(self) -> AsyncIterator[DeferredWatchers]:
        try:
            yield self
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if not self._runners:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drained(), timeout=CLOSE_GRACE)
        left = len(self._queued)
        if left:
            log.warning("watcher_starts_left_to_reconciler", tickets=left)
        for runner in self._runners:
            runner.cancel()
        await asyncio.gather(*self._runners, return_exceptions=True)
        self._runners = []

    async def _run(self) -> None:
        while True:
            ticket_id = await self._ready.get()
            try:
                ticket = self._queued.pop(ticket_id, None)
                if ticket is not None:
                    await self._start(ticket)
            finally:
                self._ready.task_done()

    async def _start(self, ticket: TicketInfo) -> None:
        backoff = self.first_backoff
        for attempt in range(1, self.attempts + 1):
            try:
                async with asyncio.timeout(self.attempt_timeout):
                    await self.inner.ensure(ticket)
                self.started += 1
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - the reconciler is the backstop
                if attempt == self.attempts:
                    self.given_up += 1
                    log.warning(
                        "watcher_start_left_to_reconciler",
                        ticket_number=ticket.ticket_number,
                        attempts=attempt,
                        error=str(error)[:300],
                    )
                    return
                await asyncio.sleep(backoff)
                backoff *= 2
