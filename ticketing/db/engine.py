"""Engine, sessions and migrations: the persistence composition helpers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from ticketing.db import rls
from ticketing.runtime.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
log = structlog.get_logger(__name__)


class SchemaNotCurrent(RuntimeError):
    """A configured database whose schema is not at this release's head revision."""


def resolve_database_url(settings: Settings) -> str:
    """The URL the app connects as: a role that owns no table, so row-level security holds.

    The configured URL, or the embedded PostgreSQL's app role under TICKETING_HOME.
    """
    if settings.database_url:
        return settings.database_url
    from ticketing.db.embedded import embedded_app_url

    return embedded_app_url(settings.home)


def resolve_migrate_url(settings: Settings) -> str:
    """The URL migrations run as: the tables' owner.

    TICKETING_MIGRATE_DATABASE_URL, else TICKETING_DATABASE_URL (a deployment with one role,
    which then owns the tables and is not held by row-level security), else the embedded
    PostgreSQL's superuser.
    """
    if settings.migrate_database_url:
        return settings.migrate_database_url
    if settings.database_url:
        return settings.database_url
    from ticketing.db.embedded import embedded_postgres_url

    return embedded_postgres_url(settings.home)


def make_engine(url: str, settings: Settings | None = None) -> AsyncEngine:
    """The app's engine; its sessions (make_sessionmaker) carry their principal's RLS scope."""
    settings = settings or Settings()
    engine = create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # No pre-ping: it costs a round trip per transaction (16% of the worker's CPU per
        # onboarding). A connection that died with the server fails its statement, SQLAlchemy
        # then invalidates the pool, and the activity's retry gets a fresh connection.
    )
    rls.install(engine.sync_engine)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(
        engine, expire_on_commit=False, sync_session_class=rls.ScopedSession
    )


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema at `url` up to `revision` (blocking; call before the event loop runs)."""
    command.upgrade(alembic_config(url), revision)


async def migrate_async(url: str, revision: str = "head") -> None:
    await asyncio.to_thread(migrate, url, revision)


def head_revisions() -> frozenset[str]:
    """The revisions this release's migrations end at."""
    return frozenset(ScriptDirectory.from_config(alembic_config("")).get_heads())


async def current_revisions(url: str) -> frozenset[str]:
    """The revisions recorded in the database at `url` (empty when never migrated)."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current_revisions)
    finally:
        await engine.dispose()


def _current_revisions(connection: Connection) -> frozenset[str]:
    return frozenset(MigrationContext.configure(connection).get_current_heads())


async def require_schema_at_head(url: str) -> None:
    """Fail with the operator's next step unless the schema at `url` is at head."""
    current, head = await current_revisions(url), head_revisions()
    if current != head:
        raise SchemaNotCurrent(
            f"database {safe_url(url)} has schema {', '.join(sorted(current)) or 'none'}, "
            f"this release needs {', '.join(sorted(head))}: run `ticketing migrate` first"
        )


async def prepare_schema(settings: Settings, url: str) -> None:
    """The embedded default migrates itself; a configured database only by `ticketing migrate`.
    Then: a warning when the app's role is one row-level security does not apply to."""
    if settings.database_url:
        await require_schema_at_head(url)
    else:
        await migrate_async(await asyncio.to_thread(resolve_migrate_url, settings))
    if await bypasses_row_security(url):
        log.warning(
            "row_level_security_bypassed",
            role=make_url(url).username,
            detail="this role is a superuser, has BYPASSRLS or owns the tables, so PostgreSQL "
            "applies no tenant policy to it and tenant isolation rests on the application "
            "alone; connect as a login role granted ticketing_app (README, Deploying)",
        )


# A role skips every policy when it is a superuser, has BYPASSRLS, or holds the privileges of
# the tables' owner (as the owner or a member inheriting them) on a table that does not FORCE
# row security.
_BYPASSES_ROW_SECURITY = text(
    "SELECT r.rolsuper OR r.rolbypassrls OR (pg_has_role(current_user, c.relowner, 'USAGE')"
    " AND NOT c.relforcerowsecurity)"
    " FROM pg_roles r, pg_class c"
    " WHERE r.rolname = current_user AND c.oid = 'tickets'::regclass"
)


async def bypasses_row_security(url: str) -> bool:
    """Whether the role of `url` reads every tenant's rows whatever its scope."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return bool(await connection.scalar(_BYPASSES_ROW_SECURITY))
    finally:
        await engine.dispose()


MASK = "***"


def safe_url(url: str) -> str:
    """`url` for anything printed or logged: every character that could be part of a password
    masked, whatever the URL looks like.

    A parser's idea of the password is not enough: an unquoted `@`, `/` or `#` in it moves the
    rest into the host or path. So everything between the scheme and the *last* `@` after its
    first `:` is masked, and so is the query from the first key naming a password onwards
    (asyncpg and libpq take `?password=`); an unparsable URL shows none of itself.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return "<unparsable database URL>"
    userinfo, at, location = rest.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        rest = f"{user}{':' + MASK if colon else ''}@{location}"
    rest = _mask_query(rest)
    try:
        parsed = make_url(f"{scheme}://{rest}")
    except Exception:  # noqa: BLE001 - it may still hold a password: show none of it
        return "<unparsable database URL>"
    shown = parsed.render_as_string(hide_password=False)
    return shown.replace("%2A%2A%2A", MASK)


def _mask_query(rest: str) -> str:
    """The query with everything from the first key naming a password masked: an unquoted `&`
    or `=` in the password would make the rest of it look like more parameters."""
    location, question, query = rest.partition("?")
    if not question:
        return rest
    kept = []
    for pair in query.split("&"):
        key = pair.partition("=")[0]
        if "pass" in key.lower():
            kept.append(f"{key}={MASK}")
            break
        kept.append(pair)
    return f"{location}?{'&'.join(kept)}"
