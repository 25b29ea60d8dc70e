"""A ticket's SLA statistics in business time, from the service and `ticket show --json`."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from tests.services import Services
from tests.temporal_support import create_ticket, seed_tenant
from ticketing.sla import DEFAULT_POLICY, BusinessCalendar, SlaPolicy
from ticketing_ops.cli import app

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


async def test_times_net_of_holds_and_each_window_met_by_its_margin(
    service: Services, tenant: str
) -> None:
    info = await service.tickets.create_ticket(
        {"title": "Down", "customer_id": 42, "priority": "urgent"}, now=T0
    )
    ticket = info.ticket_id
    await service.tickets.add_message(ticket, body="On it", author_actor="tenant", now=T0 + 30 * M)
    await service.tickets.change_status(ticket, "pending", now=T0 + H)
    await service.tickets.change_status(ticket, "in_progress", now=T0 + 3 * H)
    await service.tickets.change_status(ticket, "resolved", now=T0 + 5 * H)
    stats = await service.sla.statistics(ticket, now=T0 + 10 * H)
    assert stats.first_response_minutes == 30
    assert stats.resolution_minutes == 180  # 5 h less 2 h waiting on the customer
    assert stats.hold_minutes == 120
    windows = {w.window: w for w in stats.windows}
    assert (windows["first_response"].met, windows["first_response"].margin_minutes) == (True, 30)
    assert windows["resolution"].due == T0 + 6 * H
    assert (windows["resolution"].met, windows["resolution"].margin_minutes) == (True, 60)


async def test_missed_windows_say_by_how_much(service: Services, tenant: str) -> None:
    info = await service.tickets.create_ticket(
        {"title": "Down", "customer_id": 42, "priority": "urgent"}, now=T0
    )
    await service.tickets.change_status(info.ticket_id, "closed", now=T0 + 7 * H)
    stats = await service.sla.statistics(info.ticket_id, now=T0 + 8 * H)
    windows = {w.window: w for w in stats.windows}
    assert stats.first_response_minutes is None and stats.resolution_minutes == 420
    assert (windows["first_response"].met, windows["first_response"].margin_minutes) == (
        False,
        -360,
    )
    assert (windows["resolution"].met, windows["resolution"].margin_minutes) == (False, -180)


async def test_business_hours_count_only_office_time(service: Services, tenant: str) -> None:
    office = BusinessCalendar.office_hours("Europe/Berlin", start_minute=8 * 60, end_minute=18 * 60)
    await service.tenants.register_tenant(
        "acme", sla_policy=SlaPolicy(targets=DEFAULT_POLICY.targets, calendar=office)
    )
    friday_5pm = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)  # 17:00 in Berlin
    info = await service.tickets.create_ticket(
        {"title": "Down", "customer_id": 42, "priority": "high"}, now=friday_5pm
    )
    monday_9am = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
    await service.tickets.add_message(
        info.ticket_id, body="Hi", author_actor="tenant", now=monday_9am
    )
    stats = await service.sla.statistics(info.ticket_id, now=monday_9am)
    assert stats.first_response_minutes == 120  # Fri 17-18 and Mon 08-09


async def test_ticket_show_json_carries_the_statistics(
    database_url: str, committed: Sessions
) -> None:
    await seed_tenant(committed)
    info = await create_ticket(committed, datetime.now(UTC) - 2 * H, priority="urgent")
    env = {"TICKETING_DATABASE_URL": database_url, "TEMPORAL_ADDRESS": "127.0.0.1:9"}
    runner = CliRunner()
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(
            lambda: runner.invoke(app, ["ticket", "show", info.ticket_number, "--json"], env=env)
        ).result()
    assert result.exit_code == 0, result.stderr
    stats = json.loads(result.stdout)["sla_statistics"]
    first = next(w for w in stats["windows"] if w["window"] == "first_response")
    assert first["met"] is False and first["margin_minutes"] < -59
