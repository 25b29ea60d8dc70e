"""The outage endpoints on a real PostgreSQL (pages run inline after each commit): declare,
update and resolve with their replays, lists and 404 across tenants, tags on customers, and
Alertmanager's webhook with its keys, redeliveries and resolutions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.web.support import Keys, api_app, clear_keys, problem, seed

TAG = "olt:berlin-7"


@pytest_asyncio.fixture
async def api(
    committed: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> AsyncIterator[tuple[httpx.AsyncClient, Keys]]:
    keys = await seed(committed)
    transport = httpx.ASGITransport(app=api_app(committed))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api", headers=keys.auth("tenant_admin")
    ) as client:
        for n in (1, 2, 3):
            tagged = await client.put(
                f"/api/v1/tenants/acme/customers/{n}",
                json={"email": f"c{n}@a.test", "tags": [TAG] if n != 3 else ["olt:other"]},
            )
            assert tagged.status_code == 200, tagged.text
        yield client, keys
    await clear_keys(engine)


async def outage_mail(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str]]:
    async with sessions() as s:
        rows = await s.execute(
            text(
                "SELECT recipient, payload->>'body' FROM notifications"
                " WHERE kind IN ('outage_update', 'outage_resolved', 'support_replied')"
                " ORDER BY id"
            )
        )
        return [(r[0], r[1]) for r in rows]


async def test_customer_tags_are_set_replaced_and_checked(api: tuple) -> None:
    client, _ = api
    got = await client.get("/api/v1/tenants/acme/customers/1")
    assert got.json()["tags"] == [TAG]
    replaced = await client.put(
        "/api/v1/tenants/acme/customers/1", json={"tags": ["cabinet:B12", "postcode:10115"]}
    )
    assert replaced.json()["tags"] == ["cabinet:B12", "postcode:10115"]
    kept = await client.put("/api/v1/tenants/acme/customers/1", json={"name": "Jo"})
    assert kept.json()["tags"] == ["cabinet:B12", "postcode:10115"]
    bad = await client.put("/api/v1/tenants/acme/customers/1", json={"tags": ["has space"]})
    assert bad.status_code == 422
    assert bad.json()["field"].startswith("tags")


async def test_declare_update_resolve_with_replays(
    api: tuple, committed: async_sessionmaker[AsyncSession]
) -> None:
    client, keys = api
    eta = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    declared = await client.post(
        "/api/v1/outages",
        json={"title": "Fibre cut", "description": "We are on it", "tags": [TAG], "eta": eta},
    )
    assert declared.status_code == 201, declared.text
    body = declared.json()
    assert body["affected"] == 2 and body["ticket_type"] == "outage_report"
    number = body["ticket_number"]

    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    problem(
        await client.post("/api/v1/outages", json={"title": "x", "tags": [TAG], "eta": past}),
        422,
        "InvalidInput",
        "eta",
    )
    refused = await client.post("/api/v1/outages", json={"title": "x", "tags": ["a b"]})
    assert refused.status_code == 422 and refused.json()["field"].startswith("tags")
    problem(
        await client.post(f"/api/v1/outages/{number}/updates", json={"body": "no key"}),
        422,
        "InvalidInput",
        "Idempotency-Key",
    )

    key = {"Idempotency-Key": "noc-1"}
    first = await client.post(
        f"/api/v1/outages/{number}/updates", json={"body": "Splicing"}, headers=key
    )
    again = await client.post(
        f"/api/v1/outages/{number}/updates", json={"body": "Splicing"}, headers=key
    )
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json() and first.json()["seq"] == 2

    resolved = await client.post(f"/api/v1/outages/{number}/resolve", json={"body": "Back"})
    rerun = await client.post(f"/api/v1/outages/{number}/resolve", json={"body": "Back"})
    assert resolved.status_code == rerun.status_code == 202
    assert resolved.json() == rerun.json()
    late = await client.post(
        f"/api/v1/outages/{number}/updates", json={"body": "late"}, headers={"Idempotency-Key": "2"}
    )
    assert late.status_code == 422 and late.json()["field"] == "number"

    mail = await outage_mail(committed)
    for text_ in ("We are on it", "Splicing", "Back"):
        assert sorted(r for r, b in mail if b == text_) == ["c1@a.test", "c2@a.test"], text_

    shown = (await client.get(f"/api/v1/outages/{number}")).json()
    assert shown["status"] == "resolved" and shown["affected"] == 2
    assert shown["notified"] == 2 and [u["body"] for u in shown["updates"]] == [
        "We are on it",
        "Splicing",
        "Back",
    ]
    resolved_list = (await client.get("/api/v1/outages?status=resolved")).json()
    assert [o["ticket_number"] for o in resolved_list["items"]] == [number]
    active_list = (await client.get("/api/v1/outages?status=active")).json()
    assert active_list == {"items": [], "next_cursor": None}
    assert (await client.get("/api/v1/outages?status=bogus")).status_code == 422

    # The agent key reads, the partner key (not the tenant's staff) is refused.
    assert (await client.get("/api/v1/outages", headers=keys.auth("tenant_agent"))).is_success
    refused_partner = await client.get("/api/v1/outages", headers=keys.auth("partner_agent"))
    assert refused_partner.status_code == 403


async def test_another_tenants_outage_is_missing_and_lists_page(api: tuple) -> None:
    client, keys = api
    platform = keys.auth("platform")
    theirs = await client.post(
        "/api/v1/outages?tenant_id=globex", json={"title": "G", "tags": [TAG]}, headers=platform
    )
    assert theirs.status_code == 201, theirs.text
    number = theirs.json()["ticket_number"]
    problem(await client.get(f"/api/v1/outages/{number}"), 404, "TicketNotFound", "ticket")
    problem(
        await client.post(
            f"/api/v1/outages/{number}/updates",
            json={"body": "x"},
            headers={"Idempotency-Key": "k"},
        ),
        404,
        "TicketNotFound",
        "ticket",
    )
    problem(
        await client.post(f"/api/v1/outages/{number}/resolve", json={"body": "x"}),
        404,
        "TicketNotFound",
        "ticket",
    )
    assert (await client.get("/api/v1/outages")).json()["items"] == []
    mine = [
        (await client.post("/api/v1/outages", json={"title": f"o{n}", "tags": [TAG]})).json()
        for n in range(3)
    ]
    page = (await client.get("/api/v1/outages?limit=2")).json()
    assert [o["title"] for o in page["items"]] == ["o2", "o1"] and page["next_cursor"]
    rest = (await client.get(f"/api/v1/outages?limit=2&cursor={page['next_cursor']}")).json()
    assert [o["title"] for o in rest["items"]] == ["o0"] and rest["next_cursor"] is None
    assert len(mine) == 3


def alert(fingerprint: str, status: str, **labels: str) -> dict[str, object]:
    return {
        "status": status,
        "labels": {"alertname": "OltDown", **labels},
        "annotations": {"summary": "OLT berlin-7 down", "description": "Fibre cut"},
        "startsAt": "2026-12-04T21:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-12-04T22:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": fingerprint,
    }


def webhook(*alerts: dict[str, object]) -> dict[str, object]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="OltDown"}',
        "truncatedAlerts": 0,
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "receiver": "ticketing",
        "groupLabels": {"alertname": "OltDown"},
        "commonLabels": {"alertname": "OltDown"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


async def test_alertmanager_declares_joins_and_resolves_once(
    api: tuple, committed: async_sessionmaker[AsyncSession]
) -> None:
    client, keys = api
    hook = "/api/v1/outages/alertmanager"
    integration = keys.auth("integration")
    one = alert("aaa1", "firing", outage_tag=TAG)
    two = alert("bbb2", "firing", olt="berlin-7")
    untagged = alert("ccc3", "firing")

    assert (await client.post(hook, json=webhook(one))).status_code == 403  # an admin key
    refused = await client.post(hook, json=webhook(one), headers=keys.auth("tenant_agent"))
    problem(refused, 403, "Forbidden", "principal")
    unknown = await client.post(hook, json=webhook(one), headers={"Authorization": "Bearer x"})
    assert unknown.status_code == 401
    bad = await client.post(hook, json={**webhook(one), "version": "3"}, headers=integration)
    assert bad.status_code == 422 and bad.json()["field"] == "version"

    fired = await client.post(hook, json=webhook(one, untagged), headers=integration)
    assert fired.status_code == 200, fired.text
    results = fired.json()["alerts"]
    assert [r["outcome"] for r in results] == ["declared", "ignored"]
    number = results[0]["outage"]
    assert results[0]["tag"] == TAG
    mail_after_declare = await outage_mail(committed)
    assert sorted(r for r, _ in mail_after_declare) == ["c1@a.test", "c2@a.test"]

    again = await client.post(hook, json=webhook(one), headers=integration)
    assert [r["outcome"] for r in again.json()["alerts"]] == ["duplicate"]
    joined = await client.post(hook, json=webhook(two), headers=integration)
    assert (
        joined.json()["alerts"][0] | {"outcome": "joined", "outage": number}
        == (joined.json()["alerts"][0])
    )
    assert await outage_mail(committed) == mail_after_declare

    shown = (await client.get(f"/api/v1/outages/{number}")).json()
    assert shown["title"] == "OLT berlin-7 down" and shown["status"] == "active"

    held = await client.post(
        hook, json=webhook(alert("aaa1", "resolved", outage_tag=TAG)), headers=integration
    )
    assert held.json()["alerts"][0]["outcome"] == "held"
    assert (await client.get(f"/api/v1/outages/{number}")).json()["status"] == "active"
    last = webhook(alert("bbb2", "resolved", olt="berlin-7"))
    done = await client.post(hook, json=last, headers=integration)
    assert done.json()["alerts"][0] | {"outcome": "resolved"} == done.json()["alerts"][0]
    redelivered = await client.post(hook, json=last, headers=integration)
    assert redelivered.json()["alerts"][0]["outcome"] == "duplicate"
    assert (await client.get(f"/api/v1/outages/{number}")).json()["status"] == "resolved"
    mail = await outage_mail(committed)
    resolutions = [r for r, b in mail if b == "Resolved: OLT berlin-7 down"]
    assert sorted(resolutions) == ["c1@a.test", "c2@a.test"]

    # The alert firing again later (a new startsAt) declares a new outage.
    refired = {**alert("aaa1", "firing", outage_tag=TAG), "startsAt": "2026-12-05T08:00:00Z"}
    new = await client.post(hook, json=webhook(refired), headers=integration)
    assert new.json()["alerts"][0]["outcome"] == "declared"
    assert new.json()["alerts"][0]["outage"] != number
