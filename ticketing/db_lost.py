"""A statement sent on asyncpg itself, below SQLAlchemy, that finds its connection gone."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.exc import OperationalError


class ClosableDriver(Protocol):
    def is_closed(self) -> bool: ...


def lost_connection(
    driver: ClosableDriver, statement: str, error: Exception
) -> OperationalError | None:
    """The error to raise when `error` came from a connection that is gone; else None.

    SQLAlchemy's rule for asyncpg (its dialect's `is_disconnect`): the connection is gone when
    the driver says it is closed, whatever the exception (a server restart, a terminated
    backend, a dropped socket). The caller invalidates the connection, so the pool opens a new
    one instead of handing the dead one out again, and raises this: SQLAlchemy's own error
    for a lost connection, which the API answers 503 and an activity retries, as it would
    for a statement sent through SQLAlchemy. Parameters stay out of its text (they can hold
    personal data, and the API logs the first line).
    """
    if not driver.is_closed():
        return None
    return OperationalError(
        statement, None, error, hide_parameters=True, connection_invalidated=True
    )
