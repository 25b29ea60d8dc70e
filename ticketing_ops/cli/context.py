"""What a verb connects to (database sessions, the Temporal client) and small input helpers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from enum import Enum
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from ticketing.auth.principal import Principal
from ticketing.core.errors import InvalidInput
from ticketing.core.fields import check_storable
from ticketing.runtime.settings import Settings
from ticketing_ops.cli.errors import CliError, first_line

T = TypeVar("T")
E = TypeVar("E", bound=Enum)
# A query needs a worker to answer; without one the server holds it until this runs out.
QUERY_TIMEOUT = timedelta(seconds=3)
CONNECT_TIMEOUT = 10.0


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    from ticketing.db.engine import (
        make_engine,
        make_sessionmaker,
        prepare_schema,
        resolve_database_url,
    )

    url = await asyncio.to_thread(resolve_database_url, settings)
    if not settings.database_url:
        # The embedded default is ours to keep current (as its owner); a configured database
        # is migrated deliberately with `ticketing migrate`.
        await prepare_schema(settings, url)
    engine = make_engine(url, settings)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


async def temporal(settings: Settings) -> Client:
    from ticketing.temporal.client import connect_client, temporal_connect_config

    target = temporal_connect_config().get("target_host")
    try:
        return await asyncio.wait_for(connect_client(settings), CONNECT_TIMEOUT)
    except (RuntimeError, TimeoutError) as exc:
        raise CliError(
            f"temporal: cannot connect to {target} ({first_line(str(exc)) or 'timed out'}); "
            "start `ticketing dev` or set TEMPORAL_ADDRESS",
            type="ConnectionError",
        ) from None


# The operator at the machine acts for the platform; `--tenant` narrows a verb to one tenant.
OPERATOR = Principal.platform(name="cli")


def operator(tenant: str | None) -> Principal:
    if tenant is None:
        return OPERATOR
    check_storable(tenant_id=tenant)
    if not tenant:
        raise InvalidInput("tenant_id", tenant, "must not be empty")
    return Principal.tenant_admin(tenant, name="cli")


async def bounded(awaitable: Awaitable[T], timeout: float, message: str) -> T:
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except TimeoutError:
        raise CliError(message, type="Timeout") from None


def parse_enum(kind: type[E], field: str, value: str | None) -> E | None:
    if value is None:
        return None
    try:
        return kind(value.strip().lower())
    except ValueError:
        allowed = ", ".join(str(m.value) for m in kind)
        raise InvalidInput(field, value, f"must be one of {allowed}") from None


def format_dt(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"
