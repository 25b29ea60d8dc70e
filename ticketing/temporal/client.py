"""Connecting to Temporal: one client shape for the worker, the API, the CLI and the dev stack."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.envconfig import ClientConfig, ClientConnectConfig
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from ticketing.runtime.settings import Settings
from ticketing.temporal.codec import data_converter


def temporal_connect_config() -> ClientConnectConfig:
    """TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / TEMPORAL_API_KEY / TLS and profile files."""
    config = ClientConfig.load_client_connect_config()
    config.setdefault("target_host", "localhost:7233")
    return config


async def connect_client(
    settings: Settings, *, target_host: str | None = None, lazy: bool = False
) -> Client:
    """A client with the project's data converter (and payload codec when a key is set).
    `lazy`: connect on the first call, not now, so a process whose work starts with the
    database (the API, the mail intake) starts while Temporal is down."""
    config = temporal_connect_config()
    if target_host:
        config["target_host"] = target_host
    # Spans of workflow starts, workflows and activities, linked to the caller's trace; with
    # no tracer provider configured they are OpenTelemetry's no-op ones.
    return await Client.connect(
        **config,
        data_converter=data_converter(settings),
        runtime=metrics_runtime(settings),
        interceptors=[TracingInterceptor()],
        lazy=lazy,
    )


def metrics_runtime(settings: Settings) -> Runtime | None:
    """A runtime serving Prometheus metrics on TICKETING_METRICS_HOST (loopback by default)."""
    if not settings.metrics_port:
        return None
    host = f"[{settings.metrics_host}]" if ":" in settings.metrics_host else settings.metrics_host
    address = f"{host}:{settings.metrics_port}"
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
