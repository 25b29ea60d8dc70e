"""Traces from an HTTP request to the database and through Temporal's workflow and activity,
caught by an in-memory exporter; request metrics on the API's /metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.testing import WorkflowEnvironment

from tests.temporal_support import running_worker
from tests.web.support import clear_keys, seed
from ticketing.notifications.mailer import Notifier
from ticketing.notifications.service import DirectDelivery
from ticketing.runtime.observability import (
    RequestMetrics,
    instrument_database,
    tracer_provider,
    uninstrument_database,
)
from ticketing.runtime.settings import Settings
from ticketing.temporal.watchers import TemporalWatchers
from ticketing.tickets.ports import NoWatchers, Watchers
from ticketing.web.app import create_app
from ticketing.web.deps import ApiPorts
from ticketing.web.telemetry import Telemetry

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    yield spans
    uninstrument_database()


def traced_app(sessions: Sessions, watchers: Watchers, telemetry: Telemetry) -> httpx.AsyncClient:
    app = create_app(
        ApiPorts(
            sessions=sessions, watchers=watchers, notices=DirectDelivery(sessions, Notifier())
        ),
        telemetry=telemetry,
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


async def test_an_http_create_traces_down_to_its_statements_and_is_counted(
    committed: Sessions, engine: AsyncEngine, exporter: InMemorySpanExporter
) -> None:
    keys = await seed(committed)
    provider = tracer_provider(exporter)
    instrument_database(provider)
    metrics = RequestMetrics()
    telemetry = Telemetry(tracer_provider=provider, metrics=metrics)
    async with traced_app(committed, NoWatchers(), telemetry) as client:
        created = await client.post(
            "/api/v1/tickets",
            json={"title": "Down", "customer_id": 42},
            headers=keys.auth("tenant_agent"),
        )
        assert created.status_code == 201, created.text
        scraped = (await client.get("/metrics")).text
    spans = exporter.get_finished_spans()
    server = [s for s in spans if s.kind is SpanKind.SERVER and s.name.startswith("POST")]
    assert [s.name for s in server] == ["POST /api/v1/tickets"]
    trace_id = server[0].context.trace_id
    by_id = {s.context.span_id: s for s in spans}
    statements = [s for s in spans if s.attributes and "db.statement" in s.attributes]
    inserts = [s for s in statements if "INSERT" in str(s.attributes["db.statement"])]
    assert inserts, [s.name for s in spans]
    for span in statements:
        assert span.context.trace_id == trace_id
        assert "POST /api/v1/tickets" in ancestors(span, by_id)
    assert (
        'ticketing_http_requests_total{method="POST",route="/api/v1/tickets",status="201"} 1.0'
        in scraped
    )
    assert 'ticketing_http_request_seconds_count{method="POST",route="/api/v1/tickets"' in scraped
    await clear_keys(engine)


async def test_the_trace_goes_through_the_workflow_and_its_activity(
    dev: WorkflowEnvironment,
    committed: Sessions,
    engine: AsyncEngine,
    exporter: InMemorySpanExporter,
) -> None:
    keys = await seed(committed)
    provider = tracer_provider(exporter)
    instrument_database(provider)
    tracer = provider.get_tracer("ticketing-test")
    config = dev.client.config()
    config["interceptors"] = [TracingInterceptor(tracer)]
    client = Client(**config)
    async with running_worker(client, committed) as settings:
        watchers = TemporalWatchers(client, settings.task_queue)
        async with traced_app(committed, watchers, Telemetry(tracer_provider=provider)) as api:
            created = await api.post(
                "/api/v1/tickets",
                json={"title": "Fibre cut", "customer_id": 42, "priority": "urgent"},
                headers=keys.auth("integration"),
            )
        assert created.status_code == 201, created.text
        handle = client.get_workflow_handle(f"escalation-{created.json()['ticket_number']}")
        assert (await handle.describe()).workflow_type == "EscalationWorkflow"
        # The watcher's first wake reads the ticket in an activity; bounded, never timed.
        await _until_an_activity_ran(exporter)
    spans = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}
    (server,) = [s for s in spans if s.name == "POST /api/v1/tickets"]
    trace_id = server.context.trace_id
    start = [s for s in spans if s.name.startswith("StartWorkflow:")]
    assert start and start[0].context.trace_id == trace_id
    assert "POST /api/v1/tickets" in ancestors(start[0], by_id)
    ran = [s for s in spans if s.name.startswith("RunActivity:")]
    assert ran and all(s.context.trace_id == trace_id for s in ran)
    in_activity = [
        s
        for s in spans
        if s.attributes
        and "db.statement" in s.attributes
        and any(a.startswith("RunActivity:") for a in ancestors(s, by_id))
    ]
    assert in_activity, sorted({s.name for s in spans})
    await clear_keys(engine)


async def _until_an_activity_ran(exporter: InMemorySpanExporter) -> None:
    for _ in range(200):
        if any(s.name.startswith("RunActivity:") for s in exporter.get_finished_spans()):
            return
        await asyncio.sleep(0.05)


def test_without_an_endpoint_or_metrics_setting_nothing_is_instrumented(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert Telemetry.from_settings(Settings(api_metrics=False)) is None
    with_metrics = Telemetry.from_settings(Settings(api_metrics=True))
    assert with_metrics is not None
    assert with_metrics.tracer_provider is None
    assert isinstance(with_metrics.metrics, RequestMetrics)
