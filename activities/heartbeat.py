"""A heartbeat beside work that cannot heartbeat from inside (a transaction, an SMTP send)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from temporalio import activity

# Well inside every heartbeat timeout that uses it (the outage page's, the dispatcher's 30 s).
HEARTBEAT_EVERY = 5.0


@contextlib.asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    """Heartbeat every HEARTBEAT_EVERY seconds while the block runs: a worker that dies
    mid-block is noticed within the workflow's heartbeat timeout, however long the block is
    allowed to take."""

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(HEARTBEAT_EVERY)

    task = asyncio.get_running_loop().create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
