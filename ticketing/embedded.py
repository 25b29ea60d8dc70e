"""Embedded PostgreSQL (pgserver) for running with no configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def embedded_postgres_url(home: Path) -> str:
    """Start (or reuse) a PostgreSQL under `home/pgdata` and return its asyncpg URL.

    The server outlives this process (cleanup_mode=None) so the dev stack, the worker and the
    CLI share one instance; a second call from any process reuses it.
    """
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "TICKETING_DATABASE_URL is unset and the embedded PostgreSQL is not installed: "
            "pip install 'temporal-ticketing[embedded]' or set TICKETING_DATABASE_URL"
        ) from exc
    datadir = (home / "pgdata").resolve()
    datadir.parent.mkdir(parents=True, exist_ok=True)
    server: Any = pgserver.get_server(datadir, cleanup_mode=None)
    return _asyncpg_url(server.get_uri())


def stop_embedded_postgres(home: Path, timeout: float = 60.0) -> None:
    """Fast shutdown of the embedded PostgreSQL under `home`, whoever started it.

    pgserver hands back the instance this process already holds (started with
    cleanup_mode=None), whose cleanup() is a no-op, so stop the postmaster with pg_ctl.
    """
    if not ((home / "pgdata").resolve() / "postmaster.pid").exists():
        return
    embedded_pg_ctl(home, ["-w", "-m", "fast", "stop"], timeout=timeout)


def embedded_pg_ctl(home: Path, args: list[str], timeout: float = 60.0) -> None:
    """Run pg_ctl on the embedded PostgreSQL under `home`, as the user that owns its data."""
    import pgserver
    from pgserver import _commands

    server: Any = pgserver.get_server((home / "pgdata").resolve(), cleanup_mode=None)
    pg_ctl: Any = _commands.pg_ctl  # type: ignore[attr-defined]  # generated at import
    pg_ctl(args, pgdata=server.pgdata, user=server.system_user, timeout=timeout)


def _asyncpg_url(uri: str) -> str:
    # pgserver hands out a libpq URI with a unix socket in `host=`; asyncpg takes the same.
    return uri.replace("postgresql://", "postgresql+asyncpg://", 1)
