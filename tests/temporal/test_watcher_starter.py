"""DeferredWatchers: the request returns before the watcher's start, and the start still lands,
once per ticket, with a bounded number of attempts when Temporal is not there."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from tests.temporal_support import create_ticket, dev_server, seed_tenant
from ticketing.temporal.names import escalation_workflow_id
from ticketing.temporal.schemas import TicketInfo
from ticketing.temporal.watcher_starter import DeferredWatchers
from ticketing.temporal.watchers import TemporalWatchers

Sessions = async_sessionmaker[AsyncSession]
QUEUE = "ticketing-deferred"


async def watched_by(client: Client, ticket: TicketInfo) -> str | None:
    described = await client.get_workflow_handle(
        escalation_workflow_id(ticket.ticket_number)
    ).describe()
    assert described.status == WorkflowExecutionStatus.RUNNING
    return (await described.memo()).get("ticket_id")


async def tickets(committed: Sessions, n: int) -> list[TicketInfo]:
    await seed_tenant(committed)
    now = datetime.now(UTC)
    return [await create_ticket(committed, now, title=f"down {i}") for i in range(n)]


async def test_queued_starts_land_once_per_ticket(
    dev: WorkflowEnvironment, committed: Sessions
) -> None:
    made = await tickets(committed, 12)
    watchers = DeferredWatchers(TemporalWatchers(dev.client, QUEUE), concurrency=3)
    for ticket in made:
        await watchers.ensure(ticket)
        await watchers.ensure(ticket)  # a retried request queues nothing new
    await watchers.drained()
    assert watchers.started == len(made) and watchers.given_up == 0
    for ticket in made:
        assert await watched_by(dev.client, ticket) == str(ticket.ticket_id)
    await watchers.aclose()


async def test_shutdown_lets_queued_starts_land(
    dev: WorkflowEnvironment, committed: Sessions
) -> None:
    [ticket] = await tickets(committed, 1)
    async with DeferredWatchers(TemporalWatchers(dev.client, QUEUE)).lifetime() as watchers:
        await watchers.ensure(ticket)
    assert await watched_by(dev.client, ticket) == str(ticket.ticket_id)


async def test_without_temporal_a_start_gives_up_after_its_attempts(committed: Sessions) -> None:
    """The server is gone: each queued start is tried `attempts` times, then left to the
    reconciler; asking again queues it again."""
    [ticket] = await tickets(committed, 1)
    async with dev_server() as gone:
        client = gone.client
    watchers = DeferredWatchers(
        TemporalWatchers(client, QUEUE), attempts=2, first_backoff=0.01, attempt_timeout=0.5
    )
    await watchers.ensure(ticket)
    await watchers.drained()
    assert (watchers.started, watchers.given_up) == (0, 1)
    await watchers.ensure(ticket)
    await watchers.drained()
    assert (watchers.started, watchers.given_up) == (0, 2)
    await watchers.aclose()


async def test_past_the_backlog_a_request_makes_its_own_start(
    dev: WorkflowEnvironment, committed: Sessions
) -> None:
    """Backpressure: with `inline_above` starts already waiting, the next ensure starts its
    watcher before it returns."""
    first, second = await tickets(committed, 2)
    watchers = DeferredWatchers(TemporalWatchers(dev.client, QUEUE), inline_above=1)
    await watchers.ensure(first)  # queued: its runner has not had a turn yet
    await watchers.ensure(second)
    assert watchers.inline == 1
    assert await watched_by(dev.client, second) == str(second.ticket_id)
    await watchers.drained()
    assert await watched_by(dev.client, first) == str(first.ticket_id)
    await watchers.aclose()
