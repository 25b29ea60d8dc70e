"""Where a flow's errors become Temporal failures: domain errors final, infrastructure retried."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DataError, DBAPIError
from temporalio.exceptions import ApplicationError

from ticketing.core.errors import TicketingError


def domain_failure(error: TicketingError) -> ApplicationError:
    return ApplicationError(
        error.message, error.details(), type=type(error).__name__, non_retryable=True
    )


@asynccontextmanager
async def activity_boundary() -> AsyncIterator[None]:
    """Map what escapes a flow to Temporal failures: domain errors and refused values are
    final, infrastructure errors (connection lost, deadlock) are retried."""
    try:
        yield
    except TicketingError as error:
        raise domain_failure(error) from error
    except DataError as error:
        # The database refused a value (SQLSTATE class 22): retrying cannot help. Input
        # validation should have caught it first; this keeps a gap from becoming a loop.
        raise ApplicationError(
            f"database refused a value: {str(error.orig).splitlines()[0][:300]}",
            type="InvalidInput",
            non_retryable=True,
        ) from error
    except DBAPIError as error:
        # No exception chain: its tracebacks push the failure past the server's size limit
        # and the one-line cause is what an operator needs.
        raise ApplicationError(
            str(error.orig).splitlines()[0][:500], type=type(error.orig).__name__
        ) from None
