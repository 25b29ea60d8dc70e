"""The embedded stack's trust boundary: private files, password auth, loopback metrics, a demo
that refuses configured infrastructure, and migrations that are safe to run concurrently."""

from __future__ import annotations

import asyncio
import os
import pwd
import stat
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import psutil
import pytest
import pytest_asyncio

from ticketing.db.embedded import (
    SERVER_SYSTEM_USER,
    embedded_postgres_url,
    password_file,
    stop_embedded_postgres,
)
from ticketing.db.engine import (
    SchemaNotCurrent,
    current_revisions,
    head_revisions,
    migrate,
    require_schema_at_head,
)
from ticketing.runtime.settings import Settings
from ticketing.temporal.client import metrics_runtime
from ticketing_ops.devstack import find_free_port
from worker import run_worker

AS_ROOT = os.geteuid() == 0


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def with_password(url: str, password: str) -> str:
    real = url.split(":")[2].split("@")[0]
    return libpq(url).replace(f":{real}@", f":{password}@" if password else "@", 1)


def assert_home_private(home: Path) -> None:
    if AS_ROOT:
        # The server's system user must traverse into pgdata; nobody else may.
        assert mode(home) == 0o710
        assert home.stat().st_gid == pwd.getpwnam(SERVER_SYSTEM_USER).pw_gid
    else:
        assert mode(home) == 0o700


async def assert_password_required(url: str) -> None:
    connection = await asyncpg.connect(libpq(url))
    try:
        assert await connection.fetchval("SHOW unix_socket_permissions") == "0700"
        assert await connection.fetchval("SHOW listen_addresses") == ""
    finally:
        await connection.close()
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(with_password(url, ""))
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(with_password(url, "guessed"))


async def test_embedded_postgres_is_private_and_password_protected(tmp_path: Path) -> None:
    home = tmp_path / "a" / "home"
    url = await asyncio.to_thread(embedded_postgres_url, home)
    try:
        pgdata = home / "pgdata"
        assert_home_private(home)
        assert mode(tmp_path / "a") & 0o077 in (0, 0o001)  # created by us: private (o+x as root)
        assert mode(pgdata) == 0o700
        assert mode(password_file(home)) == 0o600
        assert mode(pgdata / "log") == 0o600
        assert mode(pgdata / ".s.PGSQL.5432") == 0o700
        assert "trust" not in (pgdata / "pg_hba.conf").read_text().replace("never trust", "")
        assert password_file(home).read_text() in url
        await assert_password_required(url)
        # A second start (server stopped) reuses the data and the password.
        await asyncio.to_thread(stop_embedded_postgres, home)
        assert await asyncio.to_thread(embedded_postgres_url, home) == url
        connection = await asyncpg.connect(libpq(url))
        await connection.close()
    finally:
        await asyncio.to_thread(stop_embedded_postgres, home)


async def test_a_long_home_puts_the_socket_in_a_private_directory(tmp_path: Path) -> None:
    home = tmp_path / ("h" * 100)
    url = await asyncio.to_thread(embedded_postgres_url, home)
    socket_dir = Path(url.rsplit("host=", 1)[1])
    try:
        assert socket_dir != home / "pgdata"
        assert mode(socket_dir) == 0o700
        assert socket_dir.stat().st_uid == (home / "pgdata").stat().st_uid
        await assert_password_required(url)
    finally:
        await asyncio.to_thread(stop_embedded_postgres, home)
        socket_dir.rmdir()


async def test_a_trusting_cluster_from_an_older_release_gets_a_password(tmp_path: Path) -> None:
    import pgserver

    home = tmp_path / "legacy"
    home.mkdir()
    old = await asyncio.to_thread(pgserver.get_server, home / "pgdata", cleanup_mode=None)
    trusted = old.get_uri()
    connection = await asyncpg.connect(trusted)  # what any local user could do before
    await connection.close()
    url = await asyncio.to_thread(embedded_postgres_url, home)
    try:
        assert_home_private(home)
        await assert_password_required(url)
        with pytest.raises((asyncpg.InvalidPasswordError, OSError)):
            await asyncpg.connect(trusted)
    finally:
        await asyncio.to_thread(stop_embedded_postgres, home)


async def listening_address(port: int) -> str:
    for _ in range(50):  # the exporter binds on the runtime's own thread
        for connection in psutil.net_connections(kind="tcp"):
            if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port:
                return str(connection.laddr.ip)
        await asyncio.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port}")


async def test_metrics_listen_on_loopback_unless_told_otherwise() -> None:
    port = find_free_port()
    runtime = metrics_runtime(Settings(metrics_port=port))
    assert runtime is not None
    assert await listening_address(port) == "127.0.0.1"
    wide_port = find_free_port()
    wide = metrics_runtime(Settings(metrics_port=wide_port, metrics_host="0.0.0.0"))
    assert wide is not None
    assert await listening_address(wide_port) == "0.0.0.0"
    assert metrics_runtime(Settings()) is None
    del runtime, wide


@pytest.mark.parametrize(
    "env",
    [
        {"TICKETING_DATABASE_URL": "postgresql+asyncpg://ops:s3cret-pw@db.internal/tickets"},
        {"TEMPORAL_ADDRESS": "temporal.internal:7233"},
    ],
)
def test_demo_refuses_configured_infrastructure(env: dict[str, str], tmp_path: Path) -> None:
    cli = Path(sys.executable).parent / "ticketing"
    result = subprocess.run(
        [str(cli), "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TICKETING_HOME": str(tmp_path / "home"), **env},
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"error: demo runs only on the embedded stack: unset {next(iter(env))}"
    ]
    assert "s3cret" not in result.stdout + result.stderr
    assert not (tmp_path / "home").exists()  # refused before starting anything


@pytest_asyncio.fixture
async def fresh_database(owner_url: str) -> AsyncIterator[str]:
    """A new, never-migrated database on the test server (its owner's URL); dropped afterwards."""
    name = f"fresh_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(libpq(owner_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base, query = owner_url.split("?", 1) if "?" in owner_url else (owner_url, "")
        yield f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_three_concurrent_migrations_of_a_fresh_database_all_succeed(
    fresh_database: str,
) -> None:
    # Separate processes, as three workers or `ticketing migrate`s would be.
    code = "import sys; from ticketing.db.engine import migrate; migrate(sys.argv[1])"
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            code,
            fresh_database,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    results = [await process.communicate() for process in processes]
    for process, (_, stderr) in zip(processes, results, strict=True):
        assert process.returncode == 0, stderr.decode()[-2000:]
    assert await current_revisions(fresh_database) == head_revisions()


async def test_worker_refuses_an_unmigrated_configured_database(fresh_database: str) -> None:
    settings = Settings(database_url=fresh_database, startup_timeout=30)
    with pytest.raises(SchemaNotCurrent, match="run `ticketing migrate`") as caught:
        await asyncio.wait_for(run_worker(settings, shutdown=asyncio.Event()), 20)
    assert ":***@" in str(caught.value) or "@" not in str(caught.value)
    assert fresh_database.split(":")[2].split("@")[0] not in str(caught.value)
    assert await current_revisions(fresh_database) == frozenset()  # left untouched
    await asyncio.to_thread(migrate, fresh_database)
    await require_schema_at_head(fresh_database)
