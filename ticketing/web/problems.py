"""Errors as `application/problem+json` (type, title, status, detail, field), and the request
body size limit."""

from __future__ import annotations

import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketing.core.errors import TicketingError
from ticketing.core.fields import invalid_input_from
from ticketing.db.errors import DATABASE_ERRORS, UNREACHABLE_ERRORS, refused_value
from ticketing.temporal.errors import TEMPORAL_ERRORS, temporal_unreachable

log = structlog.get_logger(__name__)
PROBLEM_JSON = "application/problem+json"
MAX_BODY_BYTES = 1024 * 1024


class Problem(BaseModel):
    """RFC 9457 problem details; `type` is the error class name, as in the CLI's --json."""

    type: str
    title: str
    status: int
    detail: str
    field: str | None = None


def problem_response(
    status: int, type_: str, detail: str, field: str | None = None, **headers: str
) -> JSONResponse:
    body = Problem(
        type=type_, title=HTTPStatus(status).phrase, status=status, detail=detail, field=field
    )
    return JSONResponse(
        body.model_dump(), status_code=status, media_type=PROBLEM_JSON, headers=headers or None
    )


def domain_problem(error: TicketingError) -> JSONResponse:
    """The error as it describes itself: its status, its type, what a client may be told."""
    return problem_response(
        error.status, error.error_type, error.public_message, error.public_field
    )


def validation_problem(errors: Sequence[Any]) -> JSONResponse:
    """The first request validation error as InvalidInput naming its field (without the
    body/query/path/header prefix FastAPI adds)."""
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    loc = [str(part) for part in first.get("loc", ())]
    if loc and loc[0] in ("body", "query", "path", "header", "cookie") and len(loc) > 1:
        loc = loc[1:]
    field = ".".join(loc) or "body"
    reason = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    type_ = "InvalidCustomerId" if field == "customer_id" else "InvalidInput"
    return problem_response(422, type_, f"{field}: {reason}", field)


async def _on_domain(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TicketingError)
    return domain_problem(exc)


async def _on_request_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_problem(exc.errors())


async def _on_model_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ValidationError)
    return domain_problem(invalid_input_from(exc))


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI's "error parsing the body" (not UTF-8, unreadable form): bad input like any.
        return problem_response(422, "InvalidInput", f"body: {exc.detail}", "body")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names the methods of the first route on the path only (POST for
        # /api/v1/tickets, whose GET is another route): name every route's.
        headers["Allow"] = allowed_methods(request)
    field = "body" if exc.status_code == 413 else None
    return problem_response(
        exc.status_code, _http_type(exc.status_code), str(exc.detail), field, **headers
    )


def allowed_methods(request: Request) -> str:
    """Every method the API documents at this request's path (its OpenAPI paths: FastAPI's
    routers no longer list their routes flat)."""
    path = request.url.path
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if compile_path(template)[0].match(path):
            methods |= {method.upper() for method in operations}
    return ", ".join(sorted(methods))


def _http_type(status: int) -> str:
    if status == 413:  # the phrase changed across Python versions; the type must not
        return "PayloadTooLarge"
    return HTTPStatus(status).phrase.title().replace(" ", "").replace("-", "")


async def _on_database(_: Request, exc: Exception) -> JSONResponse:
    if refused_value(exc):
        # Validation should have caught it; answering 503 would have the client retry it.
        return problem_response(422, "InvalidInput", "database refused a value")
    log.error("api_database_error", error=str(exc).splitlines()[0][:300])
    return problem_response(503, "ServiceUnavailable", "database unavailable, retry later")


async def _on_unreachable(_: Request, exc: Exception) -> JSONResponse:
    log.error("api_unreachable", error=f"{type(exc).__name__}: {str(exc)[:300]}")
    return problem_response(503, "ServiceUnavailable", "database unavailable, retry later")


# How long a client should wait before retrying a request Temporal could not take.
RETRY_SOON = {"Retry-After": "5"}


async def _on_temporal(_: Request, exc: Exception) -> JSONResponse:
    """Temporal down past the client's retries: the work the request committed stands (an
    Idempotency-Key retry finds it, the reconciler starts what is missing), so the client is
    told to retry, not that the server failed. Any other such error is a bug: a plain 500."""
    if not temporal_unreachable(exc):
        raise exc
    log.error("api_temporal_unreachable", error=f"{type(exc).__name__}: {str(exc)[:300]}")
    return problem_response(
        503, "ServiceUnavailable", "workflow service unavailable, retry later", **RETRY_SOON
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TicketingError, _on_domain)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(ValidationError, _on_model_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    for database_error in DATABASE_ERRORS:
        app.add_exception_handler(database_error, _on_database)
    for unreachable in UNREACHABLE_ERRORS:
        app.add_exception_handler(unreachable, _on_unreachable)
    for temporal_error in TEMPORAL_ERRORS:
        app.add_exception_handler(temporal_error, _on_temporal)


class BodyTooLarge(StarletteHTTPException):
    """A request body past the limit, found while it streamed in (an HTTPException, so the
    route's body parsing passes it on instead of calling it a parse error)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"body: larger than {limit} bytes")


class BodyLimit:
    """Refuse bodies over `limit` bytes with a 413 problem, by Content-Length or while
    streaming, before any of it is parsed."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int = MAX_BODY_BYTES,
        larger: dict[str, int] | None = None,
        larger_matching: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        # Exact paths allowed a larger body (the portal's new ticket with its files).
        self.larger = dict(larger or {})
        # Paths a pattern matches wholly (the desk's reply with its files, on any ticket).
        self.matching = [(re.compile(k), v) for k, v in (larger_matching or {}).items()]

    def _limit(self, path: str) -> int:
        if path in self.larger:
            return self.larger[path]
        return next((v for k, v in self.matching if k.fullmatch(path)), self.limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope.get("path", ""))
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(scope, receive, send, limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        detail = f"body: larger than {limit} bytes"
        response = problem_response(413, "PayloadTooLarge", detail, "body")
        await response(scope, receive, send)


def _documented(description: str) -> dict[str, Any]:
    return {
        "model": Problem,
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


# Every route may answer these; documented so clients (and schemathesis) know the shape.
PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: _documented("A request the domain refused for a reason not listed below."),
    401: _documented("No API key, or an unknown or revoked one."),
    403: _documented("The key's role may not do this."),
    404: _documented("No such record, or one of another scope."),
    409: _documented("Not allowed in the record's current state, or the name or id is taken."),
    413: _documented("Request body larger than the limit."),
    422: _documented("A field is missing, malformed or out of range (`field` names it)."),
    503: _documented("The database or Temporal is unavailable; retry."),
}
