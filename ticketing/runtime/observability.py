"""Traces and request metrics: one tracer provider per process, OTLP export only when asked."""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

SERVICE_NAME = "ticketing"
OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"


def tracer_provider(exporter: SpanExporter | None = None) -> TracerProvider:
    """A provider sending every span to `exporter` as it ends (tests), or none at all."""
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def configure_tracing() -> TracerProvider | None:
    """Install the process's provider with an OTLP exporter when the standard endpoint variable
    is set; otherwise leave OpenTelemetry's no-op provider, so spans cost next to nothing."""
    if not os.environ.get(OTLP_ENDPOINT):
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = tracer_provider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    instrument_database(provider)
    return provider


def instrument_database(provider: TracerProvider) -> None:
    """A span per statement at the driver: it sees SQLAlchemy's statements and the hot path's
    prepared ones sent straight to asyncpg alike."""
    instrumentor = AsyncPGInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=provider)


def uninstrument_database() -> None:
    AsyncPGInstrumentor().uninstrument()


class RequestMetrics:
    """Requests counted and timed by route template and status, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("method", "route", "status")
        self.requests = Counter(
            "ticketing_http_requests", "HTTP requests answered.", labels, registry=self.registry
        )
        self.latency = Histogram(
            "ticketing_http_request_seconds",
            "Time to answer an HTTP request.",
            labels,
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route, str(status)).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MailMetrics:
    """Received mail counted by outcome (created, appended, duplicate, ignored, bounce, held,
    rejected), in a registry of its own; `ticketing mail serve` exposes it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter(
            "ticketing_mail_received",
            "Received mail by the outcome committed for it.",
            ("outcome",),
            registry=self.registry,
        )

    def count(self, outcome: str) -> None:
        self.received.labels(outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
