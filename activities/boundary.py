"""Where a flow's errors become Temporal failures: domain errors final, infrastructure retried."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from asyncpg.exceptions import PostgresError
from sqlalchemy.exc import DBAPIError
from temporalio.exceptions import ApplicationError

from ticketing.core.errors import TicketingError
from ticketing.db.errors import driver_error, refused_value


def domain_failure(error: TicketingError) -> ApplicationError:
    return ApplicationError(
        error.message, error.details(), type=error.error_type, non_retryable=True
    )


@asynccontextmanager
async def activity_boundary() -> AsyncIterator[None]:
    """Map what escapes a flow to Temporal failures: domain errors and refused values are
    final, infrastructure errors (connection lost, deadlock) are retried."""
    try:
        yield
    except TicketingError as error:
        raise domain_failure(error) from error
    except (DBAPIError, PostgresError) as error:
        cause = driver_error(error)
        if refused_value(error):
            # Retrying cannot help. Input validation should have caught it first; this keeps
            # a gap from becoming a loop of retries.
            raise ApplicationError(
                f"database refused a value: {str(cause).splitlines()[0][:300]}",
                type="InvalidInput",
                non_retryable=True,
            ) from None
        # No exception chain (nor above): its tracebacks push the failure past the server's
        # size limit, its text can carry the statement's parameters, and the one-line cause
        # is what an operator needs.
        raise ApplicationError(
            str(cause).splitlines()[0][:500], type=type(cause).__name__
        ) from None
