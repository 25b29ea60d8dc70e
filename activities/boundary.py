"""Where a flow's errors become Temporal failures: domain errors final, infrastructure retried."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from asyncpg.exceptions import PostgresError
from sqlalchemy.exc import DBAPIError
from temporalio.exceptions import ApplicationError

from ticketing.core.errors import TicketingError
from ticketing.db.errors import UNREACHABLE_ERRORS, driver_error, refused_value

# The type of a failure to reach the database (or another server) at all: retried.
UNREACHABLE = "ServiceUnavailable"


def domain_failure(error: TicketingError) -> ApplicationError:
    return ApplicationError(
        error.message, error.details(), type=error.error_type, non_retryable=True
    )


@asynccontextmanager
async def activity_boundary() -> AsyncIterator[None]:
    """Map what escapes a flow to Temporal failures: domain errors and refused values are
    final, infrastructure errors (connection lost or refused, socket gone, deadlock) are
    retried."""
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
    except UNREACHABLE_ERRORS as error:
        # Raised as it is by a failed connect: without this it reached Temporal as a bare
        # FileNotFoundError, a type nothing says is transient. Retried within the caller's
        # bound like any lost connection.
        text = (str(error).splitlines() or [""])[0][:400]
        raise ApplicationError(
            f"unreachable ({type(error).__name__}): {text}", type=UNREACHABLE, non_retryable=False
        ) from None
