"""Serving the API: the ports from settings (database, Temporal, mail) and uvicorn, alone
(`ticketing api`) or inside the dev stack's event loop (`ticketing dev`)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import structlog
import uvicorn
from fastapi import FastAPI
from temporalio.client import Client

from ticketing.auth.keycache import KeyCache
from ticketing.auth.tracking import MissingSecretKey
from ticketing.db.engine import make_engine, make_sessionmaker, prepare_schema, resolve_database_url
from ticketing.runtime.settings import Settings
from ticketing.web.app import create_app
from ticketing.web.deps import ApiPorts
from ticketing.web.telemetry import Telemetry
from ticketing.web.tracking import TrackingConfig

log = structlog.get_logger(__name__)


@asynccontextmanager
async def open_ports(
    settings: Settings, *, client: Client | None = None, database_url: str | None = None
) -> AsyncIterator[ApiPorts]:
    """The worker's ports: Temporal watchers and the dispatcher's doorbell, on a fresh engine.
    Notices leave through the task queue's dispatcher, never inside a request."""
    from ticketing.temporal.client import connect_client
    from ticketing.temporal.dispatcher import DispatcherDoorbell, dispatcher_input
    from ticketing.temporal.watchers import TemporalWatchers

    if database_url is None:
        database_url = await asyncio.to_thread(resolve_database_url, settings)
    client = client or await connect_client(settings)
    engine = make_engine(database_url, settings)
    doorbell = DispatcherDoorbell(client, settings.task_queue, dispatcher_input(settings))
    try:
        async with doorbell.lifetime():
            yield ApiPorts(
                sessions=make_sessionmaker(engine),
                watchers=TemporalWatchers(client, settings.task_queue),
                notices=doorbell,
                keys=KeyCache(settings.api_key_cache_seconds),
            )
    finally:
        await engine.dispose()


def tracking_config(settings: Settings) -> TrackingConfig | None:
    """The tracking pages' keys; without a shared secret the pages stay off (never unsigned)."""
    try:
        return TrackingConfig.from_settings(settings)
    except MissingSecretKey as error:
        log.warning("tracking_pages_off", reason=error.message)
        return None


def app_from_environment() -> FastAPI:
    """uvicorn's factory for `ticketing api`: each worker process opens its own ports."""
    settings = Settings()
    return create_app(
        connect=lambda: open_ports(settings),
        tracking=tracking_config(settings),
        request_timeout=settings.api_timeout,
        telemetry=Telemetry.from_settings(settings),
    )


def run_api(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Serve until interrupted; a configured database must already be at the schema head."""
    url = resolve_database_url(settings)
    asyncio.run(prepare_schema(settings, url))
    uvicorn.run(
        "ticketing.web.serve:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        proxy_headers=False,
    )


def _check_free(host: str, port: int) -> None:
    # uvicorn reports a busy port with sys.exit from inside its task: say it plainly first.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(
                f"api: cannot listen on {host}:{port} ({exc.strerror}); "
                "set TICKETING_API_PORT to another port"
            ) from None


class InProcessServer(uvicorn.Server):
    """uvicorn in a process that owns its signals (the dev stack stops it itself)."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@asynccontextmanager
async def serving(
    settings: Settings, client: Client, database_url: str, *, host: str, port: int
) -> AsyncIterator[InProcessServer]:
    """The API served on this event loop until the block exits."""
    _check_free(host, port)
    async with open_ports(settings, client=client, database_url=database_url) as ports:
        config = uvicorn.Config(
            create_app(
                ports,
                tracking=tracking_config(settings),
                request_timeout=settings.api_timeout,
                telemetry=Telemetry.from_settings(settings),
            ),
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
        )
        server = InProcessServer(config)
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        if task.done():
            raise OSError(f"the API could not start on {host}:{port}")
        try:
            yield server
        finally:
            server.should_exit = True
            await task
