"""`ticketing apikey create|revoke|list` on a real PostgreSQL, the keys tried on the API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from typer.testing import CliRunner, Result

from tests.temporal_support import seed_tenant
from tests.web.support import api_app, clear_keys
from ticketing_ops.cli import app

Sessions = async_sessionmaker[AsyncSession]
Cli = Callable[..., Result]


@pytest_asyncio.fixture
async def cli(
    database_url: str, committed: Sessions, owner_engine: AsyncEngine
) -> AsyncIterator[Cli]:
    await seed_tenant(committed, partner=True)
    runner = CliRunner()
    env = {"TICKETING_DATABASE_URL": database_url, "TEMPORAL_ADDRESS": "127.0.0.1:9"}

    def invoke(*args: str) -> Result:
        # The CLI runs its own event loop: give it a thread of its own.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(lambda: runner.invoke(app, list(args), env=env)).result()

    yield invoke
    await clear_keys(owner_engine)


def ok_json(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def error_line(result: Result) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


async def status_with(committed: Sessions, key: str) -> int:
    transport = httpx.ASGITransport(app=api_app(committed))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        response = await client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {key}"})
    return response.status_code


async def test_create_use_list_revoke(cli: Cli, committed: Sessions) -> None:
    made = ok_json(
        cli("apikey", "create", "--tenant", "acme", "--role", "admin", "--name", "ops", "--json")
    )
    assert made["key"].startswith("tk_") and made["role"] == "tenant_admin"
    assert made["tenant_id"] == "acme" and made["name"] == "ops"
    assert await status_with(committed, made["key"]) == 200
    listed = ok_json(cli("apikey", "list", "--json"))["keys"]
    assert [k["key_id"] for k in listed] == [made["key_id"]]
    # Shown once: the list never carries the key, only its prefix.
    assert "key" not in listed[0] and made["key"].startswith(listed[0]["prefix"])
    revoked = ok_json(cli("apikey", "revoke", made["key_id"], "--json"))
    assert revoked["revoked_at"] is not None
    assert await status_with(committed, made["key"]) == 401
    assert ok_json(cli("apikey", "list", "--json"))["keys"] == []
    with_revoked = ok_json(cli("apikey", "list", "--revoked", "--json"))["keys"]
    assert [k["key_id"] for k in with_revoked] == [made["key_id"]]
    # Revoking twice is fine.
    assert cli("apikey", "revoke", made["key_id"]).exit_code == 0


async def test_platform_partner_and_default_agent_keys(cli: Cli, committed: Sessions) -> None:
    platform = ok_json(cli("apikey", "create", "--platform", "--json"))
    partner = ok_json(cli("apikey", "create", "--partner", "fiberco", "--json"))
    agent = ok_json(cli("apikey", "create", "--tenant", "acme", "--json"))
    assert (platform["role"], partner["role"], agent["role"]) == (
        "platform",
        "partner_agent",
        "tenant_agent",
    )
    assert partner["partner_id"] == "fiberco"
    for made in (platform, partner, agent):
        assert await status_with(committed, made["key"]) == 200
    only_acme = ok_json(cli("apikey", "list", "--tenant", "acme", "--json"))["keys"]
    assert [k["key_id"] for k in only_acme] == [agent["key_id"]]
    text = cli("apikey", "create", "--tenant", "acme", "--role", "integration")
    assert text.exit_code == 0 and "shown once" in text.stdout


async def test_bad_input_is_one_error_line(cli: Cli) -> None:
    assert error_line(cli("apikey", "create", "--tenant", "acme", "--role", "boss")).startswith(
        "error: role:"
    )
    both = cli("apikey", "create", "--platform", "--tenant", "acme")
    assert error_line(both).startswith("error: scope:")
    assert error_line(cli("apikey", "create")).startswith("error: scope:")
    assert error_line(cli("apikey", "create", "--platform", "--role", "admin")).startswith(
        "error: role:"
    )
    assert error_line(cli("apikey", "revoke", "not-a-uuid")).startswith("error: key_id:")
    missing = cli("apikey", "create", "--tenant", "nowhere")
    assert missing.exit_code != 0 and "tenant_id" in missing.stderr
    unknown = cli("apikey", "revoke", "00000000-0000-0000-0000-000000000000")
    assert unknown.exit_code != 0 and unknown.stderr.count("\n") == 1
