"""The one place that reaches below SQLAlchemy to asyncpg, for the hottest statements."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class DriverConnection(Protocol):
    """The part of asyncpg's connection the hot statements use."""

    async def fetchrow(self, query: str, *args: object) -> object: ...
    async def fetchval(self, query: str, *args: object) -> object: ...
    def is_in_transaction(self) -> bool: ...


def positional(sql: str, names: tuple[str, ...]) -> str:
    """`:name` placeholders to asyncpg's `$n`, numbered by their place in `names`."""
    for position, name in sorted(enumerate(names, 1), key=lambda p: -len(p[1])):
        sql = sql.replace(f":{name}", f"${position}")
    return sql


async def driver_connection(session: AsyncSession) -> DriverConnection:
    """The asyncpg connection under the session, inside the session's open transaction.

    A prepared statement on it skips SQLAlchemy's compile and result overhead. The caller must
    have run a statement through the session first: SQLAlchemy begins the driver's transaction
    lazily, and a statement sent before that would run outside the caller's transaction.
    """
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: DriverConnection = raw.driver_connection  # type: ignore[assignment]
    if not driver.is_in_transaction():
        raise RuntimeError("driver-level statement outside a transaction")
    return driver
