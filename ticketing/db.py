"""Engine, sessions and migrations: the persistence composition helpers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from ticketing.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def resolve_database_url(settings: Settings) -> str:
    """The configured URL, or an embedded PostgreSQL under TICKETING_HOME when none is set."""
    if settings.database_url:
        return settings.database_url
    from ticketing.embedded import embedded_postgres_url

    return embedded_postgres_url(settings.home)


def make_engine(url: str, settings: Settings | None = None) -> AsyncEngine:
    settings = settings or Settings()
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # No pre-ping: it costs a round trip per transaction (16% of the worker's CPU per
        # onboarding). A connection that died with the server fails its statement, SQLAlchemy
        # then invalidates the pool, and the activity's retry gets a fresh connection.
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


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
