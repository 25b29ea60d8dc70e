"""Everything a verb can raise, mapped to the one-line CLI error (type, field, message)."""

from __future__ import annotations

import asyncio
import os

from pydantic import ValidationError
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, TemporalError
from temporalio.service import RPCError

from ticketing.core.errors import TicketingError
from ticketing.db.errors import DATABASE_ERRORS, driver_error
from ticketing.temporal.schemas import invalid_input_from

ERROR_EXIT = 2


class CliError(Exception):
    """An error to report as one line, with a type and (when known) the field at fault."""

    def __init__(self, message: str, *, type: str = "Error", field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.type = type
        self.field = field


def first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def _field_of(message: str) -> str | None:
    head, sep, _ = message.partition(": ")
    return head if sep and head.replace(".", "").replace("_", "").isalnum() else None


def _application_error(exc: BaseException) -> ApplicationError | None:
    current: BaseException | None = exc
    seen = 0
    while current is not None and seen < 20:
        if isinstance(current, ApplicationError):
            return current
        current = current.__cause__ or getattr(current, "cause", None)
        seen += 1
    return None


def _workflow_error(exc: WorkflowFailureError | WorkflowUpdateFailedError) -> CliError:
    app_error = _application_error(exc)
    if app_error is not None:
        field = None
        if app_error.details and isinstance(app_error.details[0], dict):
            field = app_error.details[0].get("field")
        message = first_line(app_error.message)
        return CliError(
            message,
            type=app_error.type or "ApplicationError",
            field=field or _field_of(message),
        )
    cause = exc.__cause__ or getattr(exc, "cause", None)
    message = first_line(str(cause or exc))
    return CliError(message, type=type(cause or exc).__name__, field=_field_of(message))


def to_cli_error(exc: BaseException) -> CliError:
    """Map anything a verb can raise to a one-line error."""
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, TicketingError):
        return CliError(exc.message, type=exc.error_type, field=exc.field)
    if isinstance(exc, ValidationError):
        return to_cli_error(invalid_input_from(exc))
    if isinstance(exc, WorkflowFailureError | WorkflowUpdateFailedError):
        return _workflow_error(exc)
    if isinstance(exc, RPCError):
        return CliError(f"temporal: {first_line(exc.message)}", type="RPCError")
    if isinstance(exc, TemporalError):
        return CliError(first_line(str(exc)), type=type(exc).__name__)
    if isinstance(exc, DATABASE_ERRORS):
        orig = driver_error(exc)
        message = first_line(str(orig))
        if "does not exist" in message:
            message += " (run `ticketing migrate`)"
        return CliError(f"database: {message}", type=type(orig).__name__)
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return CliError(first_line(str(exc)) or "timed out", type="Timeout")
    if isinstance(exc, OSError | RuntimeError):
        return CliError(first_line(str(exc)) or type(exc).__name__, type=type(exc).__name__)
    if os.environ.get("TICKETING_DEBUG"):
        raise exc
    # An unexpected error is still one line; TICKETING_DEBUG=1 shows the traceback.
    return CliError(f"{type(exc).__name__}: {first_line(str(exc))}", type=type(exc).__name__)
