"""A bound on request time: a handler still running past it is answered 503 problem+json."""

from __future__ import annotations

import asyncio

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketing.web.problems import problem_response

log = structlog.get_logger(__name__)
REQUEST_TIMEOUT_SECONDS = 30.0


class RequestTimeout:
    """Cancel a request that runs longer than `seconds` and answer 503 with `Retry-After`;
    a response already under way is cut off instead, as its status was sent."""

    def __init__(self, app: ASGIApp, seconds: float = REQUEST_TIMEOUT_SECONDS) -> None:
        if seconds <= 0:
            raise ValueError("request timeout must be positive")
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            async with asyncio.timeout(self.seconds):
                await self.app(scope, receive, tracked)
        except TimeoutError:
            log.warning("api_request_timeout", path=scope.get("path"), seconds=self.seconds)
            if started:
                raise
            detail = f"request took longer than {self.seconds:g} s; retry later"
            response = problem_response(
                503, "ServiceUnavailable", detail, None, **{"Retry-After": "1"}
            )
            await response(scope, receive, send)
