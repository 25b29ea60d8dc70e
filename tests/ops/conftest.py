"""The CLI tests' shared servers and runner: each module gets its own Temporal dev server and
names its task queue in a module-level `TASK_QUEUE` (so two modules' workers never share one)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from typer.testing import CliRunner, Result

from tests.ops.support import in_thread
from ticketing_ops.cli import app
from ticketing_ops.devstack import TemporalDevServer, find_free_port


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    home = Path(tmp_path_factory.mktemp("temporal"))
    async with TemporalDevServer(home, port=find_free_port(), headless=True) as server:
        yield server.target_host


@pytest.fixture(scope="module")
def env(request: pytest.FixtureRequest, database_url: str, temporal_server: str) -> dict[str, str]:
    return {
        "TICKETING_DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": temporal_server,
        "TICKETING_TASK_QUEUE": request.module.TASK_QUEUE,
    }


@pytest.fixture(scope="module")
def cli(env: dict[str, str]) -> Any:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return in_thread(lambda: runner.invoke(app, list(args), env=env))

    return invoke
