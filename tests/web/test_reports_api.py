"""Reports over HTTP: counts per tenant and team, SLA met/missed rates, scoped by the key;
and the ticket detail's notices and SLA statistics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.outages.support import declare, tag_customer
from tests.services import Services
from tests.web.support import Keys, api_app, clear_keys, seed


@pytest_asyncio.fixture
async def api(
    committed: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> AsyncIterator[tuple[httpx.AsyncClient, Keys]]:
    keys = await seed(committed)
    async with committed() as session, session.begin():
        service = Services(session)
        await service.tickets.create_ticket(
            {"title": "a", "customer_id": 42, "priority": "high", "assigned_team": "noc"}
        )
        await service.tickets.create_ticket(
            {"title": "b", "customer_id": 42, "ticket_type": "billing_issue"}
        )
        await service.tickets.create_ticket({"title": "c", "customer_id": 7})
    async with engine.begin() as connection:
        # a and b opened 30 days ago: a never answered, b answered within a minute.
        await connection.execute(
            text(
                "UPDATE tickets SET created_at = created_at - interval '30 days',"
                " resolution_window_start = resolution_window_start - interval '30 days',"
                " sla_breached = (title = 'a') WHERE title in ('a', 'b')"
            )
        )
        await connection.execute(
            text(
                "UPDATE tickets SET first_response_at = created_at + interval '1 minute'"
                " WHERE title = 'b'"
            )
        )
    transport = httpx.ASGITransport(app=api_app(committed))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client, keys
    await clear_keys(engine)


async def test_counts_per_tenant_and_team_for_the_platform(
    api: tuple[httpx.AsyncClient, Keys],
) -> None:
    client, keys = api
    report = (await client.get("/api/v1/reports/tickets", headers=keys.auth("platform"))).json()
    acme, globex = report["tenants"]
    assert acme["tenant_id"] == "acme" and acme["total"] == 2
    assert acme["by_priority"] == {"high": 1, "normal": 1}
    assert acme["by_type"] == {"general_inquiry": 1, "billing_issue": 1}
    assert acme["by_status"] == {"open": 2}
    assert (acme["breached"], acme["not_breached"]) == (1, 1)
    assert globex["total"] == 1
    teams = {(t["tenant_id"], t["team"]): t["total"] for t in report["teams"]}
    assert teams == {("acme", None): 1, ("acme", "noc"): 1, ("globex", None): 1}


async def test_counts_are_scoped_by_the_key(api: tuple[httpx.AsyncClient, Keys]) -> None:
    client, keys = api
    agent = (await client.get("/api/v1/reports/tickets", headers=keys.auth("tenant_agent"))).json()
    assert [t["tenant_id"] for t in agent["tenants"]] == ["acme"]
    partner = await client.get("/api/v1/reports/tickets", headers=keys.auth("partner_agent"))
    # globex's ticket is still at L1, so its partner sees nothing yet.
    assert partner.json() == {"tenants": [], "teams": []}
    assert (await client.get("/api/v1/reports/tickets")).status_code == 401


async def test_sla_rates_over_a_period(api: tuple[httpx.AsyncClient, Keys]) -> None:
    client, keys = api
    now = datetime.now(UTC)
    period = {
        "from": (now - timedelta(days=31)).isoformat(),
        "to": (now - timedelta(days=29)).isoformat(),
    }
    report = await client.get(
        "/api/v1/reports/sla", params=period, headers=keys.auth("tenant_admin")
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["tickets"] == 2
    first = next(w for w in body["windows"] if w["window"] == "first_response")
    assert (first["met"], first["missed"], first["open"]) == (1, 1, 0)
    assert first["met_rate"] == 0.5
    resolution = next(w for w in body["windows"] if w["window"] == "resolution")
    assert (resolution["met"], resolution["missed"]) == (0, 2)
    earlier = {
        "from": (now - timedelta(days=3)).isoformat(),
        "to": (now - timedelta(days=2)).isoformat(),
    }
    empty = await client.get("/api/v1/reports/sla", params=earlier, headers=keys.auth("platform"))
    assert empty.json()["tickets"] == 0


async def test_outage_tickets_are_counted_apart_and_leave_the_met_rate_alone(
    api: tuple[httpx.AsyncClient, Keys], committed: async_sessionmaker[AsyncSession]
) -> None:
    client, keys = api
    now = datetime.now(UTC)
    period = {
        "from": (now - timedelta(days=31)).isoformat(),
        "to": (now - timedelta(days=29)).isoformat(),
    }
    auth = keys.auth("tenant_admin")
    before = (await client.get("/api/v1/reports/sla", params=period, headers=auth)).json()
    assert before["outage_tickets"] == 0
    assert before["windows_excluding_outages"] == before["windows"]
    assert all(w["outage_time"] is False for w in before["windows"])
    # A fibre cut behind customer 42: a and b (both unsolved) are linked to it.
    await tag_customer(committed, "acme", "42", "olt:berlin-7")
    declared = await declare(committed, tags=("olt:berlin-7",))
    body = (await client.get("/api/v1/reports/sla", params=period, headers=auth)).json()
    assert body["tickets"] == 2 and body["outage_tickets"] == 2
    first = next(w for w in body["windows"] if w["window"] == "first_response")
    assert (first["met"], first["missed"], first["met_rate"]) == (1, 1, 0.5)
    rest = next(w for w in body["windows_excluding_outages"] if w["window"] == "first_response")
    assert (rest["met"], rest["missed"], rest["met_rate"]) == (0, 0, None)
    outage = next(w for w in body["outage_windows"] if w["window"] == "first_response")
    assert (outage["met"], outage["missed"], outage["outage_time"]) == (1, 1, True)
    # The outage's own ticket (created now) is an outage ticket too, and not linked.
    today = {
        "from": (now - timedelta(hours=1)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
    }
    recent = (await client.get("/api/v1/reports/sla", params=today, headers=auth)).json()
    assert recent["outage_tickets"] == 1 and recent["tickets"] == 1
    counts = (await client.get("/api/v1/reports/tickets", headers=auth)).json()
    [acme] = counts["tenants"]
    assert acme["outage_linked"] == 2 and acme["total"] == 3
    assert declared.ticket_type == "outage_report"


async def test_a_backwards_or_zoneless_period_is_refused(
    api: tuple[httpx.AsyncClient, Keys],
) -> None:
    client, keys = api
    auth = keys.auth("platform")
    backwards = {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    response = await client.get("/api/v1/reports/sla", params=backwards, headers=auth)
    assert response.status_code == 422 and response.json()["field"] == "to"
    naive = {"from": "2026-01-01T00:00:00", "to": "2026-02-01T00:00:00Z"}
    response = await client.get("/api/v1/reports/sla", params=naive, headers=auth)
    assert response.status_code == 422 and response.json()["field"] == "from"
    missing = await client.get("/api/v1/reports/sla", headers=auth)
    assert missing.status_code == 422 and missing.json()["field"] == "from"
    # Schemathesis found these: in UTC they fall outside the calendar (was a 503).
    out_of_range = {
        "from": {"from": "0001-01-01T00:00:00+22:08", "to": "2000-01-01T00:00:00Z"},
        "to": {"from": "2000-01-01T00:00:00Z", "to": "9999-12-31T23:59:00-05:00"},
    }
    for field, period in out_of_range.items():
        response = await client.get("/api/v1/reports/sla", params=period, headers=auth)
        assert response.status_code == 422, response.text
        assert response.json()["field"] == field


async def test_ticket_detail_has_its_notices_and_sla_statistics(
    api: tuple[httpx.AsyncClient, Keys],
) -> None:
    client, keys = api
    auth = keys.auth("tenant_agent")
    listed = await client.get("/api/v1/tickets", params={"q": "b"}, headers=auth)
    number = next(t["ticket_number"] for t in listed.json()["items"] if t["title"] == "b")
    detail = (await client.get(f"/api/v1/tickets/{number}", headers=auth)).json()
    kinds = {n["kind"] for n in detail["notifications"]}
    assert "ticket_created" in kinds
    assert all({"status", "attempts", "reason"} <= set(n) for n in detail["notifications"])
    windows = {w["window"]: w for w in detail["sla"]["windows"]}
    assert windows["first_response"]["met"] is True
    assert windows["resolution"]["met"] is False
    assert detail["sla"]["first_response_minutes"] is not None
