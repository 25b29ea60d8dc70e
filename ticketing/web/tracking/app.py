"""A FastAPI app with only the tracking pages, until they are mounted into the API's app."""

from __future__ import annotations

from fastapi import FastAPI

from ticketing.web.headers import SecurityHeaders
from ticketing.web.tracking.config import TrackingConfig, TrackingPorts
from ticketing.web.tracking.routes import tracking_router


def create_tracking_app(ports: TrackingPorts, config: TrackingConfig | None = None) -> FastAPI:
    """The tracking pages over `ports` (tests, a stand-alone public host)."""
    app = FastAPI(title="Ticket tracking", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.ports = ports
    app.include_router(tracking_router(config))
    app.add_middleware(SecurityHeaders)
    return app
