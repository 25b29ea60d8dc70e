"""Database errors told apart: a connection that is gone (retry) and a value the database
refused (retrying cannot help)."""

from __future__ import annotations

from typing import Protocol

from asyncpg.exceptions import InterfaceError, PostgresError
from sqlalchemy.exc import DataError, OperationalError, SQLAlchemyError

# What a statement can raise: SQLAlchemy's errors, and asyncpg's own from the hot statements
# sent on the driver connection (`ticketing.db.driver`) that did not lose their connection.
DATABASE_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, PostgresError)
# Failing to reach the server at all, raised as they are (neither SQLAlchemy nor asyncpg wraps
# a failed connect): the unix socket file gone while PostgreSQL restarts
# (FileNotFoundError), connection refused or reset, a timeout, the driver's own "connection
# is closed". Never bad input: retried with a bound, 503 at the API.
UNREACHABLE_ERRORS: tuple[type[Exception], ...] = (OSError, TimeoutError, InterfaceError)


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


def driver_error(error: BaseException) -> BaseException:
    """The driver's own error: the one SQLAlchemy wrapped (`orig`), else `error` itself (as
    raised on the driver connection)."""
    return getattr(error, "orig", None) or error


def refused_value(error: Exception) -> bool:
    """Whether the database refused a value: SQLSTATE class 22, a data exception (NUL in text,
    a number out of range, malformed input for a type). The same statement fails the same way
    every time, so it is bad input, never "retry later".

    Most dialects raise these as DataError; SQLAlchemy's asyncpg dialect raises a plain
    DBAPIError whose driver error carries the SQLSTATE, and the driver connection raises
    asyncpg's error itself: all three are read here.
    """
    if isinstance(error, DataError):
        return True
    code = getattr(driver_error(error), "sqlstate", None)
    return isinstance(code, str) and code.startswith("22")
