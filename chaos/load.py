"""The load: the planned workflows started and finished, each call retried through the faults."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from chaos.http_load import HttpLoad
from chaos.plan import Clock, Request
from chaos.processes import TASK_QUEUE
from ticketing.temporal import names
from ticketing.temporal.schemas import CancelInstallation, CompleteInstallation, InstallationState

BUSINESS_TYPES = (names.ONBOARDING_WORKFLOW, names.INSTALLATION_WORKFLOW)
RPC_TIMEOUT = timedelta(seconds=10)

T = TypeVar("T")


class Load:
    """Drives the requests into the dev server; counts the calls it had to retry."""

    def __init__(
        self, client: Client, requests: list[Request], clock: Clock, rng: random.Random,
        concurrency: int, http: HttpLoad | None = None,
    ) -> None:
        self.client = client
        self.http = http
        self.requests = requests
        self.clock = clock
        self.rng = rng
        self.concurrency = concurrency
        self.retries = Counter[str]()

    async def retrying(self, what: str, op: Callable[[], Awaitable[T]], deadline: float) -> T:
        delay = 0.2
        while True:
            try:
                return await op()
            except (RPCError, WorkflowQueryFailedError, TimeoutError) as error:
                if time.monotonic() + delay > deadline:
                    raise TimeoutError(f"{what}: gave up after {error!r}") from error
                self.retries[what] += 1
                await asyncio.sleep(delay * self.rng.uniform(0.5, 1.5))
                delay = min(delay * 2, 3.0)

    async def start_one(self, request: Request, deadline: float) -> None:
        client = self.client

        async def start() -> None:
            request.start_attempts += 1
            try:
                await client.start_workflow(
                    request.workflow_type,
                    request.workflow_input(),
                    id=request.workflow_id,
                    task_queue=TASK_QUEUE,
                    # A start whose answer was lost may have been accepted: starting again
                    # must attach to it (running) or be refused (finished), never run twice.
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    rpc_timeout=RPC_TIMEOUT,
                )
            except WorkflowAlreadyStartedError:
                request.already_started = True

        await self.retrying("start", start, deadline)
        request.started = True

    async def finish_installation(self, request: Request, deadline: float) -> None:
        """Wait until the installation's ticket exists, then complete or cancel it."""
        handle = self.client.get_workflow_handle(request.workflow_id)

        async def ticket_number() -> str | None:
            state = await handle.query(
                names.INSTALLATION_STATE_QUERY, result_type=InstallationState,
                rpc_timeout=timedelta(seconds=5),
            )
            return state.ticket_number

        while await self.retrying("query", ticket_number, deadline) is None:
            # A workflow that never makes its ticket (it failed first) answers None for good.
            if time.monotonic() > deadline:
                raise TimeoutError("installation_state: no ticket before the deadline")
            await asyncio.sleep(0.3)
        arg: CancelInstallation | CompleteInstallation
        if request.finish == "cancel":
            name = names.CANCEL_INSTALLATION_SIGNAL
            arg = CancelInstallation(reason="chaos: cancelled")
        else:
            name = names.COMPLETE_INSTALLATION_SIGNAL
            arg = CompleteInstallation(notes="chaos: done")

        async def send() -> None:
            await handle.signal(name, arg, rpc_timeout=RPC_TIMEOUT)

        await self.retrying("signal", send, deadline)
        request.finished = True

    async def drive(self, deadline: float) -> None:
        slots = asyncio.Semaphore(self.concurrency)
        http_slots = asyncio.Semaphore(self.concurrency)

        async def one(request: Request) -> None:
            try:
                await asyncio.sleep(max(0.0, self.clock.t0 + request.release_at - time.monotonic()))
                if request.door == "http":
                    # A client of the API of its own: its retries while the API is down
                    # hold none of the workflow starts' slots.
                    assert self.http is not None
                    async with http_slots:
                        await self.http.create(request, deadline)
                else:
                    async with slots:
                        await self.start_one(request, deadline)
                if request.finish:
                    await self.finish_installation(request, deadline)
            except Exception as error:  # noqa: BLE001 - reported by the checks
                request.error = repr(error)
            except asyncio.CancelledError:
                request.error = "cut off at the load deadline"
                raise

        await asyncio.gather(*(one(request) for request in self.requests))

    # -- waiting for the end --

    async def wait_all_closed(self, deadline: float) -> float | None:
        """Until no business workflow is running; returns when (seconds since t0)."""
        client = self.client
        types = ", ".join(f"'{name}'" for name in BUSINESS_TYPES)
        query = f"WorkflowType IN ({types}) AND ExecutionStatus = 'Running'"

        async def running() -> int:
            return (await client.count_workflows(query, rpc_timeout=RPC_TIMEOUT)).count

        while time.monotonic() < deadline:
            if await self.retrying("count", running, deadline) == 0:
                # Visibility can trail the last workflows: wait for each one's own close too.
                await self.each_closed(deadline)
                return round(time.monotonic() - self.clock.t0, 2)
            await asyncio.sleep(1.0)
        return None

    async def each_closed(self, deadline: float) -> None:
        """Until every started business workflow has closed, however it closed (bounded)."""
        client = self.client
        slots = asyncio.Semaphore(16)

        async def closed(workflow_id: str) -> None:
            async with slots:
                with contextlib.suppress(Exception):  # failed or gone: the checks report it
                    await asyncio.wait_for(
                        client.get_workflow_handle(workflow_id).result(),
                        max(1.0, deadline - time.monotonic()),
                    )

        await asyncio.gather(*(closed(r.workflow_id) for r in self.requests
                               if r.started and r.door == "workflow"))

    async def running_watchers(self) -> list[str]:
        client = self.client

        async def listed() -> list[str]:
            return [
                execution.id
                async for execution in client.list_workflows(
                    "WorkflowType = 'EscalationWorkflow' AND ExecutionStatus = 'Running'",
                    rpc_timeout=RPC_TIMEOUT,
                )
            ]

        return await self.retrying("list", listed, self.clock.deadline)
