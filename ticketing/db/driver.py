"""The one place that reaches below SQLAlchemy to asyncpg, for the hottest statements."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ticketing.db.errors import lost_connection
from ticketing.db.rls import ensure_scope

T = TypeVar("T")


class DriverConnection(Protocol):
    """The part of asyncpg's connection the hot statements use."""

    async def fetch(self, query: str, *args: object) -> list[Sequence[Any]]: ...
    async def fetchrow(self, query: str, *args: object) -> object: ...
    async def fetchval(self, query: str, *args: object) -> object: ...
    def is_in_transaction(self) -> bool: ...
    def is_closed(self) -> bool: ...


class _Guarded:
    """The driver's statements, a lost connection invalidated (see `lost_connection`)."""

    __slots__ = ("_driver", "_connection")

    def __init__(self, driver: DriverConnection, connection: AsyncConnection) -> None:
        self._driver = driver
        self._connection = connection

    async def fetch(self, query: str, *args: object) -> list[Sequence[Any]]:
        return await self._run(self._driver.fetch, query, args)

    async def fetchrow(self, query: str, *args: object) -> object:
        return await self._run(self._driver.fetchrow, query, args)

    async def fetchval(self, query: str, *args: object) -> object:
        return await self._run(self._driver.fetchval, query, args)

    def is_in_transaction(self) -> bool:
        return self._driver.is_in_transaction()

    def is_closed(self) -> bool:
        return self._driver.is_closed()

    async def _run(
        self, call: Callable[..., Awaitable[T]], query: str, args: tuple[object, ...]
    ) -> T:
        try:
            return await call(query, *args)
        except Exception as error:
            if (lost := lost_connection(self._driver, query, error)) is None:
                raise
            await self._connection.invalidate(error)
            # Every pooled connection opened before the server went away is as dead as this
            # one: drop them all, as SQLAlchemy does for its own statements, or each retry
            # draws the next dead one (a pool of 20 outlasts a retry bound of 12).
            await self._connection.engine.dispose(close=False)
            raise lost from error


def positional(sql: str, names: tuple[str, ...]) -> str:
    """`:name` placeholders to asyncpg's `$n`, numbered by their place in `names`."""
    for position, name in sorted(enumerate(names, 1), key=lambda p: -len(p[1])):
        sql = sql.replace(f":{name}", f"${position}")
    return sql


async def driver_connection(
    session: AsyncSession, *, transaction: bool | None = True
) -> DriverConnection:
    """The asyncpg connection under the session.

    `transaction=True`: the statement must run inside the session's open transaction. The
    caller must have run a statement through the session first: SQLAlchemy begins the driver's
    transaction lazily, and a statement sent before that would commit on its own.
    `transaction=False`: the statement must commit on its own, so the session must not have
    begun one. `None`: either (a read that may run in or out of a transaction).
    A prepared statement on it skips SQLAlchemy's compile and result overhead.
    """
    connection = await session.connection()
    # A statement here bypasses the session's hooks: the RLS scope is checked the same way.
    await ensure_scope(session, connection)
    raw = await connection.get_raw_connection()
    driver: DriverConnection = raw.driver_connection  # type: ignore[assignment]
    if transaction is not None and driver.is_in_transaction() != transaction:
        where = "outside" if transaction else "inside"
        raise RuntimeError(f"driver-level statement {where} a transaction")
    return _Guarded(driver, connection)
