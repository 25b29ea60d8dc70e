"""Traces of every request (FastAPI instrumentation) and the /metrics route of request counts
and latencies by route template and status."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request, Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.trace import TracerProvider
from prometheus_client import CONTENT_TYPE_LATEST

from ticketing.runtime.observability import RequestMetrics, configure_tracing
from ticketing.runtime.settings import Settings

Next = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Telemetry:
    """What an app reports: traces to this provider (None: the process's global one) and,
    with `metrics`, request metrics on /metrics."""

    tracer_provider: TracerProvider | None = None
    metrics: RequestMetrics | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Telemetry | None:
        """Traces when OTEL_EXPORTER_OTLP_ENDPOINT is set, metrics when TICKETING_API_METRICS
        is; neither: no instrumentation on the request path at all."""
        provider = configure_tracing()
        metrics = RequestMetrics() if settings.api_metrics else None
        if provider is None and metrics is None:
            return None
        return cls(tracer_provider=provider, metrics=metrics)


def route_of(request: Request) -> str:
    # The template, never the raw path: ticket numbers would make a series per ticket.
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def instrument_app(app: FastAPI, telemetry: Telemetry) -> None:
    """Trace the app's requests; with metrics, count and time them and serve /metrics."""
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=telemetry.tracer_provider, excluded_urls="/metrics"
    )
    metrics = telemetry.metrics
    if metrics is None:
        return

    @app.middleware("http")
    async def measure(request: Request, call_next: Next) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - started
        metrics.observe(request.method, route_of(request), response.status_code, elapsed)
        return response

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
