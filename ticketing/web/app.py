"""The FastAPI app factory: routers, problem+json errors, body limit, and the ports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from ticketing.runtime.heap import freeze_startup_heap
from ticketing.web import admin, apikeys, chat, customers, erase, reports, teams, tickets
from ticketing.web.deps import ApiPorts
from ticketing.web.desk import DeskConfig, desk_router
from ticketing.web.desk.ticket import REPLY_PATTERN
from ticketing.web.headers import SecurityHeaders
from ticketing.web.portal import PortalConfig, portal_router
from ticketing.web.portal.routes import UPLOAD_PATH
from ticketing.web.problems import MAX_BODY_BYTES, BodyLimit, install_problem_handlers
from ticketing.web.status import status_router
from ticketing.web.telemetry import Telemetry, instrument_app
from ticketing.web.timeouts import REQUEST_TIMEOUT_SECONDS, RequestTimeout
from ticketing.web.tracking import TrackingConfig, tracking_router

PortsProvider = Callable[[], AbstractAsyncContextManager[ApiPorts]]


def create_app(
    ports: ApiPorts | None = None,
    *,
    connect: PortsProvider | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    request_timeout: float = REQUEST_TIMEOUT_SECONDS,
    tracking: TrackingConfig | None = None,
    desk: DeskConfig | None = None,
    portal: PortalConfig | None = None,
    telemetry: Telemetry | None = None,
) -> FastAPI:
    """The API over `ports` (tests, the dev stack), or over ports `connect` opens for the
    app's lifetime (`ticketing api`, one set per uvicorn worker process); with `tracking`, the
    customers' public tracking pages beside it; with `desk`, the agent desk under /desk; with
    `portal`, the customer portal under /portal."""
    if (ports is None) == (connect is None):
        raise ValueError("give exactly one of ports or connect")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if connect is None:
            yield
            return
        async with connect() as opened:
            app.state.ports = opened
            freeze_startup_heap()
            yield

    # /docs and /redoc load Swagger UI and ReDoc from files the fastapi-offline package ships
    # (under /static-offline-docs), not from a CDN: the pages work on a machine with no internet.
    app = FastAPIOffline(
        title="Ticketing API",
        version="1",
        summary="Tickets for agents, admins and integrations; errors are problem+json.",
        lifespan=lifespan,
        # Traces and request metrics come from the OpenTelemetry instrumentation
        # (`instrument_app`); FastAPI's own would be a second source, checked per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.ports = ports
    app.state.tracking = tracking
    install_problem_handlers(app)
    uploads = {UPLOAD_PATH: portal.limits.body_bytes} if portal is not None else {}
    replies = {REPLY_PATTERN: desk.limits.body_bytes} if desk is not None else {}
    app.add_middleware(BodyLimit, limit=max_body_bytes, larger=uploads, larger_matching=replies)
    app.add_middleware(RequestTimeout, seconds=request_timeout)
    # Outermost of ours: the 413 and 503 answered by the two above carry the headers too.
    app.add_middleware(SecurityHeaders)
    app.include_router(tickets.router)
    app.include_router(customers.router)
    app.include_router(admin.router)
    app.include_router(admin.policy_router)
    app.include_router(reports.router)
    app.include_router(erase.router)
    app.include_router(teams.teams_router)
    app.include_router(teams.agents_router)
    app.include_router(apikeys.router)
    app.include_router(chat.router)
    # Public and read-only, with nothing to configure: always served.
    app.include_router(status_router())
    if tracking is not None:
        app.include_router(tracking_router(tracking))
    if desk is not None:
        app.include_router(desk_router(desk))
    if portal is not None:
        app.include_router(portal_router(portal))
    if telemetry is not None:
        instrument_app(app, telemetry)
    return app
