"""Serving the API: the ports from settings (database, Temporal, mail) and uvicorn, alone
(`ticketing api`) or inside the dev stack's event loop (`ticketing dev`)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI
from temporalio.client import Client
from uvicorn.protocols.http.h11_impl import H11Protocol

from ticketing.auth.keycache import KeyCache
from ticketing.auth.signed_links import MissingSecretKey
from ticketing.db.engine import make_engine, make_sessionmaker, prepare_schema, resolve_database_url
from ticketing.runtime.settings import Settings
from ticketing.web.app import create_app
from ticketing.web.deps import ApiPorts
from ticketing.web.desk import DeskConfig
from ticketing.web.portal import PortalConfig
from ticketing.web.telemetry import Telemetry
from ticketing.web.tracking import TrackingConfig

log = structlog.get_logger(__name__)


@asynccontextmanager
async def open_ports(
    settings: Settings,
    *,
    client: Client | None = None,
    database_url: str | None = None,
    defer_watchers: bool | None = None,
) -> AsyncIterator[ApiPorts]:
    """The worker's ports: Temporal watchers and the dispatcher's doorbell, on a fresh engine.
    Notices leave through the task queue's dispatcher, never inside a request. A new ticket's
    watcher starts inside the request, or right after the response with `defer_watchers`
    (default: TICKETING_API_DEFER_WATCHERS; the reconciler is then its backstop)."""
    from ticketing.temporal.client import connect_client
    from ticketing.temporal.dispatcher import DispatcherDoorbell, dispatcher_input
    from ticketing.temporal.outages import TemporalOutageRuns
    from ticketing.temporal.watcher_starter import DeferredWatchers
    from ticketing.temporal.watchers import TemporalWatchers

    if database_url is None:
        database_url = await asyncio.to_thread(resolve_database_url, settings)
    # Lazily: a uvicorn worker started while Temporal is down (a restart after a crash)
    # would otherwise fail its start-up, and uvicorn stops the whole API for that. Requests
    # meet Temporal only after their commit; a retry or the reconciler does what they miss.
    client = client or await connect_client(settings, lazy=True)
    engine = make_engine(database_url, settings)
    doorbell = DispatcherDoorbell(client, settings.task_queue, dispatcher_input(settings))
    inline = TemporalWatchers(client, settings.task_queue)
    if defer_watchers is None:
        defer_watchers = settings.api_defer_watchers
    watchers = DeferredWatchers(inline) if defer_watchers else None
    try:
        async with doorbell.lifetime(), contextlib.AsyncExitStack() as stack:
            if watchers is not None:
                await stack.enter_async_context(watchers.lifetime())
            yield ApiPorts(
                sessions=make_sessionmaker(engine),
                watchers=watchers or inline,
                notices=doorbell,
                keys=KeyCache(settings.api_key_cache_seconds),
                outages=TemporalOutageRuns(client, settings.task_queue),
                alert_label=settings.outage_alert_label,
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


def desk_config(settings: Settings) -> DeskConfig | None:
    """The desk's keys; without a shared secret the desk stays off, as the tracking pages do."""
    try:
        return DeskConfig.from_settings(settings)
    except MissingSecretKey as error:
        log.warning("desk_off", reason=error.message)
        return None


def portal_config(settings: Settings) -> PortalConfig | None:
    """The portal's keys; without a shared secret the portal stays off, as the desk does."""
    try:
        return PortalConfig.from_settings(settings)
    except MissingSecretKey as error:
        log.warning("portal_off", reason=error.message)
        return None


def app_from_environment() -> FastAPI:
    """uvicorn's factory for `ticketing api`: each worker process opens its own ports."""
    settings = Settings()
    return create_app(
        connect=lambda: open_ports(settings),
        tracking=tracking_config(settings),
        desk=desk_config(settings),
        portal=portal_config(settings),
        request_timeout=settings.api_timeout,
        telemetry=Telemetry.from_settings(settings),
    )


class HeadDeadlineH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head: a connection that has not
    sent a complete head within `timeout_keep_alive` seconds of opening (or of its previous
    response) is closed. uvicorn arms that timer only after a response, and any byte cancels
    it, so a client trickling its headers kept its connection forever."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def data_received(self, data: bytes) -> None:
        # uvicorn's, without cancelling the deadline on every byte: the complete head does
        # (h11.Request in handle_events), so a head sent a byte at a time still runs out.
        self.conn.receive_data(data)
        self.handle_events()


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's settings for the API, the same for `ticketing dev` and `ticketing api`:
    proxies trusted only when named, a bounded request head and a deadline for it, and a
    bound on connections. h11 rather than httptools: httptools has no head size limit."""
    trusted = [p.strip() for p in (settings.trusted_proxies or "").split(",") if p.strip()]
    return {
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or "",
        "http": HeadDeadlineH11,
        "h11_max_incomplete_event_size": settings.api_max_header_bytes,
        "timeout_keep_alive": settings.api_idle_timeout,
        "limit_concurrency": settings.api_max_connections,
    }


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
        **server_options(settings),
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
                desk=desk_config(settings),
                portal=portal_config(settings),
                request_timeout=settings.api_timeout,
                telemetry=Telemetry.from_settings(settings),
            ),
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            **server_options(settings),
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
