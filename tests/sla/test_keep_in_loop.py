"""Keep-in-loop: the customer hears from support at least every N business seconds while the
ticket is open; one more window from the last public support message (or the creation)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from tests.services import Services
from tests.temporal_support import breaches, create_ticket, running_worker, seed_tenant
from ticketing.core import outbox_keys
from ticketing.core.errors import InvalidInput
from ticketing.db.metadata import Notification, SlaBreach
from ticketing.sla import SlaPolicy, parse_policy_document, policy_json_schema
from ticketing.sla.stored import policy_from_dict, policy_to_dict
from ticketing.temporal.watchers import ensure_watcher, notify_ticket_changed

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


def policy(keep_in_loop: int | None = 1800) -> SlaPolicy:
    def targets(first: int, resolution: int) -> dict[str, Any]:
        return {"first_response_seconds": first, "resolution_seconds": resolution}

    urgent = {**targets(3600, 86400), "keep_in_loop_seconds": keep_in_loop}
    return parse_policy_document(
        {
            "targets": {
                "low": targets(86400, 432000),
                "normal": targets(28800, 259200),
                "high": targets(14400, 86400),
                "urgent": urgent,
            }
        }
    ).to_policy()


async def loop_rows(service: Services, ticket_id: object) -> list[tuple[str, datetime]]:
    rows = await service.session.execute(
        select(SlaBreach.kind, SlaBreach.window_start)
        .where(SlaBreach.ticket_id == ticket_id, SlaBreach.kind.like("keep_in_loop%"))
        .order_by(SlaBreach.id)
    )
    return [(kind, start) for kind, start in rows.all()]


def test_the_document_keeps_the_key_and_names_a_bad_value() -> None:
    stored = policy_to_dict(policy())
    assert stored["targets"]["urgent"]["keep_in_loop_seconds"] == 1800  # type: ignore[index]
    assert stored["targets"]["low"]["keep_in_loop_seconds"] is None  # type: ignore[index]
    assert policy_from_dict(stored) == policy()
    assert policy().targets["urgent"] is not None
    schema: Any = policy_json_schema()
    assert "keep_in_loop_seconds" in schema["$defs"]["TargetsDocument"]["properties"]
    document = policy_to_dict(policy())
    document["targets"]["urgent"]["keep_in_loop_seconds"] = 0  # type: ignore[index]
    with pytest.raises(InvalidInput) as caught:
        parse_policy_document(document)
    assert caught.value.field == "targets.urgent.keep_in_loop_seconds"


async def test_each_public_support_message_restarts_the_window(
    service: Services, tenant: str
) -> None:
    await service.tenants.register_tenant("acme", sla_policy=policy())
    info = await service.tickets.create_ticket(
        {"title": "Down", "customer_id": 42, "priority": "urgent"}, now=T0
    )
    ticket = info.ticket_id
    # From the creation: the 75 % warning at 22.5 min comes before first response's (45 min).
    snap = await service.sla.sla_snapshot(ticket, now=T0 + M)
    assert (snap.next_kind, snap.next_at) == ("keep_in_loop_warning", T0 + 22.5 * M)
    await service.tickets.add_message(
        ticket, body="Looking", author_actor="tenant", now=T0 + 10 * M
    )
    snap = await service.sla.sla_snapshot(ticket, now=T0 + 11 * M)
    assert (snap.next_kind, snap.next_at) == ("keep_in_loop_warning", T0 + 32.5 * M)
    # Neither the customer nor an internal note keeps the customer in the loop.
    await service.tickets.add_message(ticket, body="?", author_actor="customer", now=T0 + 20 * M)
    await service.tickets.add_message(
        ticket, body="L2?", author_actor="tenant", is_internal=True, now=T0 + 25 * M
    )
    first = await service.sla.record_threshold(ticket, "keep_in_loop", now=T0 + 41 * M)
    assert first.recorded and not first.escalated
    again = await service.sla.record_threshold(ticket, "keep_in_loop", now=T0 + 42 * M)
    assert not again.recorded
    # A breached window fires no more: the next threshold is another window's.
    assert again.snapshot.next_kind is not None
    assert not again.snapshot.next_kind.startswith("keep_in_loop")
    await service.tickets.add_message(ticket, body="Update", author_actor="tenant", now=T0 + H)
    second = await service.sla.record_threshold(ticket, "keep_in_loop", now=T0 + 91 * M)
    assert second.recorded
    assert await loop_rows(service, ticket) == [
        ("keep_in_loop", T0 + 10 * M),
        ("keep_in_loop", T0 + H),
    ]
    keys = set(
        (
            await service.session.execute(
                select(Notification.dedupe_key).where(Notification.ticket_id == ticket)
            )
        ).scalars()
    )
    assert outbox_keys.keep_in_loop("keep_in_loop", ticket, T0 + 10 * M) in keys
    assert outbox_keys.keep_in_loop("keep_in_loop", ticket, T0 + H) in keys


async def test_a_late_support_message_records_the_breach_it_finds(
    service: Services, tenant: str
) -> None:
    await service.tenants.register_tenant("acme", sla_policy=policy())
    info = await service.tickets.create_ticket(
        {"title": "Down", "customer_id": 42, "priority": "urgent"}, now=T0
    )
    late = await service.tickets.add_message(
        info.ticket_id, body="Sorry", author_actor="tenant", now=T0 + 2 * H
    )
    assert late.sla_breached
    rows = await loop_rows(service, info.ticket_id)
    assert ("keep_in_loop", T0) in rows


async def test_pending_stops_the_clock_and_no_target_means_no_window(
    service: Services, tenant: str
) -> None:
    await service.tenants.register_tenant("acme", sla_policy=policy())
    info = await service.tickets.create_ticket(
        {"title": "Down", "customer_id": 42, "priority": "urgent"}, now=T0
    )
    await service.tickets.change_status(info.ticket_id, "pending", now=T0 + 10 * M)
    snap = await service.sla.sla_snapshot(info.ticket_id, now=T0 + 5 * H)
    assert snap.paused and snap.next_at is None
    normal = await service.tickets.create_ticket(
        {"title": "Slow", "customer_id": 42, "priority": "normal"}, now=T0
    )
    snap = await service.sla.sla_snapshot(normal.ticket_id, now=T0 + M)
    assert snap.next_kind == "first_response_warning"


async def test_the_watcher_records_keep_in_loop_once_per_window(
    env: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed, policy=policy())
    t0 = await env.get_current_time()
    ticket = await create_ticket(committed, t0, priority="urgent")
    async with running_worker(env.client, committed) as settings:
        await ensure_watcher(env.client, ticket, settings.task_queue)
        await env.sleep(31 * M)
        assert await breaches(committed, ticket.ticket_id) == [
            ("keep_in_loop_warning", 1),
            ("keep_in_loop", 1),
        ]
        async with committed() as session, session.begin():
            told = await Services(session).tickets.add_message(
                ticket.ticket_id,
                body="On it",
                author_actor="tenant",
                now=await env.get_current_time(),
            )
        await notify_ticket_changed(env.client, told, settings.task_queue)
        # The new window runs from the message (also the first response): 22.5 and 30 min on.
        await env.sleep(31 * M)
    kinds = [k for k, _ in await breaches(committed, ticket.ticket_id)]
    assert kinds.count("keep_in_loop") == 2 and kinds.count("keep_in_loop_warning") == 2
