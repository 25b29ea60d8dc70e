"""/api/v1/api-keys: a tenant admin issues and revokes its own tenant's keys, the platform any;
every other role is refused, and another tenant's key reads like a missing one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.web.support import Keys, api_app, clear_keys, seed

KEYS = "/api/v1/api-keys"


@pytest_asyncio.fixture
async def api(
    committed: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> AsyncIterator[tuple[httpx.AsyncClient, Keys]]:
    keys = await seed(committed)
    transport = httpx.ASGITransport(app=api_app(committed))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client, keys
    await clear_keys(engine)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_an_issued_key_works_until_revoked(api: tuple[httpx.AsyncClient, Keys]) -> None:
    client, keys = api
    issued = await client.post(
        KEYS, json={"role": "tenant_agent", "name": "desk"}, headers=keys.auth("tenant_admin")
    )
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert (body["role"], body["tenant_id"], body["name"]) == ("tenant_agent", "acme", "desk")
    assert (await client.get("/api/v1/tickets", headers=bearer(body["key"]))).status_code == 200

    listed = await client.get(KEYS, headers=keys.auth("tenant_admin"))
    assert listed.status_code == 200
    assert body["key_id"] in {k["key_id"] for k in listed.json()}
    assert all("key" not in k and k["tenant_id"] == "acme" for k in listed.json())

    revoked = await client.delete(f"{KEYS}/{body['key_id']}", headers=keys.auth("tenant_admin"))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    after = await client.get("/api/v1/tickets", headers=bearer(body["key"]))
    assert after.status_code == 401


async def test_a_tenant_admin_stays_in_its_tenant(api: tuple[httpx.AsyncClient, Keys]) -> None:
    client, keys = api
    admin = keys.auth("tenant_admin")
    elsewhere = await client.post(
        KEYS, json={"role": "tenant_agent"}, params={"tenant_id": "globex"}, headers=admin
    )
    assert elsewhere.status_code == 404 and elsewhere.json()["type"] == "TenantNotFound"
    for role in ("platform", "partner_agent"):
        wider = await client.post(KEYS, json={"role": role, "partner_id": "fiberco"}, headers=admin)
        assert wider.status_code == 403, wider.text
    # The partner's key (another scope) cannot be revoked by acme's admin: not found.
    platform = keys.auth("platform")
    partner_keys = [k for k in (await client.get(KEYS, headers=platform)).json() if k["partner_id"]]
    gone = await client.delete(f"{KEYS}/{partner_keys[0]['key_id']}", headers=admin)
    assert gone.status_code == 404 and gone.json()["type"] == "ApiKeyNotFound"
    still = await client.get("/api/v1/tickets", headers=keys.auth("partner_agent"))
    assert still.status_code == 200


async def test_the_platform_issues_for_a_named_tenant(api: tuple[httpx.AsyncClient, Keys]) -> None:
    client, keys = api
    issued = await client.post(
        KEYS,
        json={"role": "integration"},
        params={"tenant_id": "globex"},
        headers=keys.auth("platform"),
    )
    assert issued.status_code == 201, issued.text
    assert issued.json()["tenant_id"] == "globex"
    missing = await client.post(KEYS, json={"role": "tenant_agent"}, headers=keys.auth("platform"))
    assert missing.status_code == 422 and missing.json()["field"] == "tenant_id"


@pytest.mark.parametrize("role", ["tenant_agent", "integration", "partner_agent"])
async def test_other_roles_manage_no_keys(api: tuple[httpx.AsyncClient, Keys], role: str) -> None:
    client, keys = api
    headers = keys.auth(role)
    assert (await client.get(KEYS, headers=headers)).status_code == 403
    made = await client.post(KEYS, json={"role": "tenant_agent"}, headers=headers)
    assert made.status_code == 403


async def test_bad_input_names_the_field(api: tuple[httpx.AsyncClient, Keys]) -> None:
    client, keys = api
    admin = keys.auth("tenant_admin")
    bad_role = await client.post(KEYS, json={"role": "root"}, headers=admin)
    assert bad_role.status_code == 422 and bad_role.json()["field"] == "role"
    extra = await client.post(KEYS, json={"role": "tenant_agent", "tenant_id": "x"}, headers=admin)
    assert extra.status_code == 422 and extra.json()["field"] == "tenant_id"
    not_a_key = await client.delete(f"{KEYS}/not-a-uuid", headers=admin)
    assert not_a_key.status_code == 422 and not_a_key.json()["field"] == "key_id"
    assert (await client.get(KEYS)).status_code == 401
