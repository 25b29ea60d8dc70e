"""The dispatcher's activity and the notices port that wakes it after a commit."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from activities.boundary import activity_boundary
from ticketing.auth.principal import Principal
from ticketing.notifications.dispatch import (
    Dispatcher,
    DispatcherInput,
    DispatchInput,
    DispatchReport,
    DispatchRules,
)
from ticketing.notifications.mailer import Notifier
from ticketing.temporal.caller import CallerCheck

log = structlog.get_logger(__name__)

DISPATCHER_WORKFLOW = "NotificationDispatcherWorkflow"
NOTICES_QUEUED = "notices_queued"
# Bounds each wake-up signal: a slow Temporal must not hold the caller's after-commit duty.
RING_TIMEOUT = 10.0
# What a ring under way may still take once its worker stopped.
CLOSE_GRACE = 2.0
# At most one wake-up a second per process: each costs the server a signal and the dispatcher a
# pass (about a watcher threshold's work), and a notice is not timed to the second, so a burst
# of thresholds must not double the server's load with passes of one row each.
RING_SPACING = 1.0


def dispatcher_workflow_id(task_queue: str) -> str:
    return f"notification-dispatcher-{task_queue}"


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
        start_signal=NOTICES_QUEUED,
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


class NotificationActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        notifier: Notifier,
        rules: DispatchRules | None = None,
        *,
        callers: CallerCheck,
    ) -> None:
        self.dispatcher = Dispatcher(sessions, Principal.reconciler(), notifier, rules)
        self.callers = callers

    @activity.defn(name="dispatch_notifications")
    async def dispatch_notifications(self, input: DispatchInput) -> DispatchReport:
        """One pass: claim, send and record due rows one at a time, up to the limit."""
        async with activity_boundary():
            await self.callers.require(frozenset({DISPATCHER_WORKFLOW}), "dispatch notifications")
        return await self.dispatcher.send_due(
            limit=input.limit, on_row=lambda note_id: activity.heartbeat(note_id)
        )
