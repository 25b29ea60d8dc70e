"""Next-reply targets, several warnings per window and policy rules, wired to real tickets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from tests.services import Services
from tests.temporal_support import breaches, create_ticket, running_worker, seed_tenant
from ticketing.db.metadata import Notification, SlaBreach
from ticketing.sla import parse_policy_document
from ticketing.temporal.watchers import ensure_watcher

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


def targets(first: int, resolution: int, next_reply: int | None = None) -> dict[str, int]:
    data = {"first_response_seconds": first, "resolution_seconds": resolution}
    if next_reply is not None:
        data["next_reply_seconds"] = next_reply
    return data


def policy(**extra: Any) -> Any:
    return parse_policy_document(
        {
            "targets": {
                "low": targets(86400, 432000),
                "normal": targets(28800, 259200),
                "high": targets(14400, 86400),
                "urgent": targets(3600, 14400, next_reply=1800),
            },
            **extra,
        }
    ).to_policy()


async def next_reply_rows(service: Services, ticket_id: object) -> list[datetime]:
    rows = await service.session.execute(
        select(SlaBreach.window_start)
        .where(SlaBreach.ticket_id == ticket_id, SlaBreach.kind == "next_reply")
        .order_by(SlaBreach.id)
    )
    return list(rows.scalars())


async def test_each_unanswered_customer_message_arms_a_next_reply_due_time(
    service: Services, tenant: str
) -> None:
    await service.tenants.register_tenant("acme", sla_policy=policy())
    info = await service.tickets.create_ticket(
        {"title": "Down", "customer_id": 42, "priority": "urgent"}, now=T0
    )
    ticket = info.ticket_id
    # Before the first response the first-response window covers the customer's messages.
    await service.tickets.add_message(ticket, body="Any news?", author_actor="customer", now=T0 + M)
    assert (await service.sla.sla_snapshot(ticket, now=T0 + 2 * M)).next_reply_due is None
    await service.tickets.add_message(ticket, body="Looking", author_actor="tenant", now=T0 + 5 * M)
    await service.tickets.add_message(
        ticket, body="Still down", author_actor="customer", now=T0 + 10 * M
    )
    await service.tickets.add_message(
        ticket, body="And now?", author_actor="customer", now=T0 + 20 * M
    )
    snap = await service.sla.sla_snapshot(ticket, now=T0 + 21 * M)
    # From the oldest unanswered message; the 75 % warning is the next threshold.
    assert snap.next_reply_due == T0 + 40 * M
    assert (snap.next_kind, snap.next_at) == ("next_reply_warning", T0 + 10 * M + 22.5 * M)
    # An internal note does not answer.
    await service.tickets.add_message(
        ticket, body="ping L2", author_actor="tenant", is_internal=True, now=T0 + 30 * M
    )
    assert (await service.sla.sla_snapshot(ticket, now=T0 + 31 * M)).next_reply_due == T0 + 40 * M
    breach = await service.sla.record_threshold(ticket, "next_reply", now=T0 + 41 * M)
    assert breach.recorded and breach.snapshot.breached == ["next_reply"]
    # A public reply clears it; the next customer message arms a new window.
    await service.tickets.add_message(ticket, body="Fixed?", author_actor="tenant", now=T0 + 50 * M)
    assert (await service.sla.sla_snapshot(ticket, now=T0 + 51 * M)).next_reply_due is None
    await service.tickets.add_message(ticket, body="No", author_actor="customer", now=T0 + H)
    assert (await service.sla.sla_snapshot(ticket, now=T0 + H)).next_reply_due == T0 + 90 * M
    second = await service.sla.record_threshold(ticket, "next_reply", now=T0 + 91 * M)
    assert second.recorded
    assert await next_reply_rows(service, ticket) == [T0 + 10 * M, T0 + H]


async def test_a_late_reply_records_the_next_reply_breach_it_finds(
    service: Services, tenant: str
) -> None:
    await service.tenants.register_tenant("acme", sla_policy=policy())
    info = await service.tickets.create_ticket(
        {"title": "Down", "customer_id": 42, "priority": "urgent"}, now=T0
    )
    ticket = info.ticket_id
    await service.tickets.add_message(ticket, body="Looking", author_actor="tenant", now=T0 + 5 * M)
    await service.tickets.add_message(
        ticket, body="Still down", author_actor="customer", now=T0 + 10 * M
    )
    late = await service.tickets.add_message(
        ticket, body="Sorry", author_actor="tenant", now=T0 + 2 * H
    )
    assert late.sla_breached
    assert await next_reply_rows(service, ticket) == [T0 + 10 * M]


async def test_first_matching_rule_wins_by_plan_then_channel(
    service: Services, tenant: str
) -> None:
    rules = [
        {
            "name": "enterprise",
            "when": {"customer_plans": ["enterprise"]},
            "targets": {"urgent": targets(600, 7200)},
        },
        {"name": "chat", "when": {"channels": ["chat"]}, "targets": {"urgent": targets(900, 7200)}},
        {
            "name": "outages",
            "when": {"ticket_types": ["outage_report"]},
            "targets": {"urgent": targets(300, 3600)},
        },
    ]
    await service.tenants.register_tenant("acme", sla_policy=policy(rules=rules))
    await service.tenants.upsert_customer(tenant_id="acme", customer_id="43", plan="enterprise")

    async def due(**fields: object) -> timedelta:
        info = await service.tickets.create_ticket(
            {"title": "Down", "customer_id": 42, "priority": "urgent", **fields}, now=T0
        )
        assert info.first_response_due is not None
        return info.first_response_due - T0

    assert await due(customer_id=43, channel="chat") == 10 * M
    assert await due(channel="chat") == 15 * M
    assert await due(ticket_type="outage_report") == 5 * M
    assert await due() == H
    # The plan keeps counting after the create: a priority change re-targets with it.
    enterprise = await service.tickets.create_ticket(
        {"title": "Slow", "customer_id": 43, "priority": "low"}, now=T0
    )
    moved = await service.tickets.change_priority(enterprise.ticket_id, "urgent", now=T0 + M)
    assert moved.first_response_due == T0 + 10 * M


async def test_three_warnings_and_the_breach_each_recorded_and_notified_once(
    env: WorkflowEnvironment, committed: Sessions
) -> None:
    await seed_tenant(committed, policy=policy(warning_thresholds=[50, 75, 90]))
    t0 = await env.get_current_time()
    ticket = await create_ticket(committed, t0, priority="urgent")  # 1 h to first response
    async with running_worker(env.client, committed) as settings:
        await ensure_watcher(env.client, ticket, settings.task_queue)
        await env.sleep(31 * M)
        assert await breaches(committed, ticket.ticket_id) == [("first_response_warning_50", 1)]
        await env.sleep(30 * M)
    assert await breaches(committed, ticket.ticket_id) == [
        ("first_response_warning_50", 1),
        ("first_response_warning", 1),
        ("first_response_warning_90", 1),
        ("first_response", 1),
    ]
    async with committed() as session:
        notices = await session.execute(
            select(Notification.kind, func.count())
            .where(Notification.ticket_id == ticket.ticket_id)
            .group_by(Notification.kind)
        )
        counts = dict(notices.all())
    assert counts["sla_warning"] == 3 and counts["sla_breach"] == 1
