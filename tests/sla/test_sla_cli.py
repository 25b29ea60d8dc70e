"""`ticketing sla show|set` and `tenant add --timezone` on a real PostgreSQL."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner, Result

from tests.temporal_support import seed_tenant
from ticketing_ops.cli import app

Sessions = async_sessionmaker[AsyncSession]

BERLIN = {
    "version": 1,
    "calendar": {
        "timezone": "Europe/Berlin",
        "hours": {day: [{"start": "08:00", "end": "18:00"}] for day in ("mon", "tue", "wed")},
        "yearly_holidays": ["12-25", "01-01"],
    },
    "targets": {
        p: {"first_response_seconds": 3600, "resolution_seconds": 14400}
        for p in ("low", "normal", "high", "urgent")
    },
    "warning_thresholds": [50, 75, 90],
}


@pytest.fixture
def cli(database_url: str) -> Any:
    runner = CliRunner()
    # No Temporal here: these tenants have no open tickets, so no watcher is woken.
    env = {"TICKETING_DATABASE_URL": database_url, "TEMPORAL_ADDRESS": "127.0.0.1:9"}

    def invoke(*args: str, input: str | None = None) -> Result:
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(
                lambda: runner.invoke(app, list(args), env=env, input=input)
            ).result()

    return invoke


def ok_json(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def error_line(result: Result) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


async def test_show_set_round_trip_from_a_file_and_stdin(
    cli: Any, committed: Sessions, tmp_path: Path
) -> None:
    await seed_tenant(committed)
    default = ok_json(cli("sla", "show", "--tenant", "acme", "--json"))
    assert default["version"] == 1 and default["calendar"]["hours"] is None
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(BERLIN))
    saved = ok_json(cli("sla", "set", "--tenant", "acme", str(path), "--json"))
    assert saved["policy"]["calendar"]["timezone"] == "Europe/Berlin"
    shown = ok_json(cli("sla", "show", "--tenant", "acme"))
    assert shown["warning_thresholds"] == [50, 75, 90]
    assert shown["calendar"]["yearly_holidays"] == ["01-01", "12-25"]
    # What `show` prints is what `set` takes back, from stdin too.
    again = cli("sla", "set", "--tenant", "acme", "-", input=json.dumps(shown))
    assert again.exit_code == 0, again.stderr
    assert ok_json(cli("sla", "show", "--tenant", "acme", "--json")) == shown


async def test_a_bad_document_is_one_line_naming_its_json_path(
    cli: Any, committed: Sessions, tmp_path: Path
) -> None:
    await seed_tenant(committed)
    bad = json.loads(json.dumps(BERLIN))
    bad["targets"]["urgent"]["first_response_seconds"] = -5
    line = error_line(cli("sla", "set", "--tenant", "acme", "-", input=json.dumps(bad)))
    assert line.startswith("error: targets.urgent.first_response_seconds: ")
    bad = {**BERLIN, "rules": [{"name": "x", "when": {"channels": ["pigeon"]}, "targets": {}}]}
    line = error_line(cli("sla", "set", "--tenant", "acme", "-", input=json.dumps(bad)))
    assert line.startswith("error: rules[0].when.channels[0]: ")
    assert error_line(cli("sla", "set", "--tenant", "acme", "-", input="{")).startswith(
        "error: policy: "
    )
    missing = error_line(cli("sla", "set", "--tenant", "acme", str(tmp_path / "nope.json")))
    assert missing.startswith("error: file: ")
    assert "nobody" in error_line(cli("sla", "show", "--tenant", "nobody"))


async def test_tenant_add_timezone_keeps_the_business_hours(cli: Any, committed: Sessions) -> None:
    await seed_tenant(committed)
    ok_json(cli("sla", "set", "--tenant", "acme", "-", "--json", input=json.dumps(BERLIN)))
    moved = ok_json(cli("tenant", "add", "acme", "--timezone", "America/New_York", "--json"))
    assert moved["retargeted"] == 0
    calendar = ok_json(cli("sla", "show", "--tenant", "acme", "--json"))["calendar"]
    assert calendar["timezone"] == "America/New_York"
    assert calendar["hours"] == BERLIN["calendar"]["hours"]
    assert calendar["yearly_holidays"] == ["01-01", "12-25"]
