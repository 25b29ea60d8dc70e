"""The notices port on Temporal: start and wake the task queue's notification dispatcher."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import structlog
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from ticketing.notifications.dispatch import DispatcherInput
from ticketing.runtime.settings import Settings
from ticketing.temporal.names import (
    DISPATCHER_WORKFLOW,
    NOTICES_QUEUED_SIGNAL,
    dispatcher_workflow_id,
)

log = structlog.get_logger(__name__)

# Bounds each wake-up signal: a slow Temporal must not hold the caller's after-commit duty.
RING_TIMEOUT = 10.0
# What a ring under way may still take once its worker stopped.
CLOSE_GRACE = 2.0
# At most one wake-up a second per process: each costs the server a signal and the dispatcher a
# pass (about a watcher threshold's work), and a notice is not timed to the second, so a burst
# of thresholds must not double the server's load with passes of one row each.
RING_SPACING = 1.0


async def ensure_dispatcher(client: Client, task_queue: str, input: DispatcherInput) -> None:
    """Start the task queue's dispatcher unless it runs (worker start-up, the reconciler)."""
    await client.start_workflow(
        DISPATCHER_WORKFLOW,
        input,
        id=dispatcher_workflow_id(task_queue),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def ring_dispatcher(client: Client, task_queue: str, input: DispatcherInput) -> None:
    """Wake the dispatcher; start it if it is not running (signal-with-start)."""
    await client.start_workflow(
        DISPATCHER_WORKFLOW,
        input,
        id=dispatcher_workflow_id(task_queue),
        task_queue=task_queue,
        start_signal=NOTICES_QUEUED_SIGNAL,
    )


class DispatcherDoorbell:
    """The notices port on Temporal: wakes the dispatcher and returns at once.

    Rings are coalesced: while one signal is on its way or within `spacing` seconds of the last,
    any number of hand-overs cost one more signal after it, so a burst of thresholds is a
    signal a second, off their path. A ring lost with the process is covered by the
    dispatcher's own polling.
    """

    def __init__(
        self,
        client: Client,
        task_queue: str,
        input: DispatcherInput,
        *,
        spacing: float = RING_SPACING,
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        self.input = input
        self.spacing = spacing
        self._rung = False
        self._sent = asyncio.Event()
        self._bell: asyncio.Task[None] | None = None

    async def hand_over(self, ticket_id: uuid.UUID) -> None:
        self.ring()

    def ring(self) -> None:
        self._rung = True
        self._sent.clear()
        if self._bell is None or self._bell.done():
            self._bell = asyncio.get_running_loop().create_task(self._ring_until_quiet())

    async def wait_rung(self) -> None:
        """Until the rings made so far reached Temporal (or failed); for short-lived callers."""
        if self._bell is not None and not self._bell.done():
            await self._sent.wait()

    @contextlib.asynccontextmanager
    async def lifetime(self) -> AsyncIterator[None]:
        """Around a worker's run: once it stops, so do the rings (see `aclose`)."""
        try:
            yield
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Stop ringing: a ring under way gets `CLOSE_GRACE` seconds to land, then is dropped
        (the dispatcher's polling covers it). Without this a stopped worker's last ring went on
        retrying, for up to RING_TIMEOUT, against a server that may be gone by then."""
        bell = self._bell
        if bell is None or bell.done():
            return
        await asyncio.wait({bell}, timeout=CLOSE_GRACE)
        if not bell.done():
            bell.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await bell

    async def _ring_until_quiet(self) -> None:
        loop = asyncio.get_running_loop()
        while self._rung:
            self._rung = False
            next_ring = loop.time() + self.spacing
            try:
                async with asyncio.timeout(RING_TIMEOUT):
                    await ring_dispatcher(self.client, self.task_queue, self.input)
            except Exception as error:  # noqa: BLE001 - polling delivers it a little later
                log.warning("dispatcher_ring_failed", error=str(error)[:300])
            if not self._rung:
                self._sent.set()
            # Hand-overs until the next slot ride on one more ring then.
            await asyncio.sleep(max(0.0, next_ring - loop.time()))


def dispatcher_input(settings: Settings) -> DispatcherInput:
    return DispatcherInput(poll_seconds=settings.dispatch_poll_seconds)
