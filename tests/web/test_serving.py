"""The API as `ticketing dev` serves it (`serving`, the uvicorn settings `ticketing api` uses
too): forwarded addresses believed only from named proxies, a bounded request head, and a
deadline for it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from tests.notifications.smtp_support import free_port
from tests.services import Services
from tests.web.tracking.conftest import seed
from ticketing.runtime.settings import Settings
from ticketing.temporal.watcher_starter import DeferredWatchers
from ticketing.temporal.watchers import TemporalWatchers
from ticketing.web.serve import open_ports, serving
from ticketing_ops.devstack import TemporalDevServer, find_free_port

Serve = Callable[..., AbstractAsyncContextManager[str]]


@pytest_asyncio.fixture
async def serve(
    committed: async_sessionmaker[AsyncSession],
    database_url: str,
    dev: WorkflowEnvironment,
    tmp_path: Path,
) -> AsyncIterator[Serve]:
    """Start the dev stack's API with some settings; yields its base URL."""
    await seed(committed)
    async with committed() as session, session.begin():
        await Services(session).tickets.create_ticket({"title": "No internet", "customer_id": 42})

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def start(**overrides: object) -> AsyncIterator[str]:
        settings = Settings(
            database_url=database_url,
            secret_key=SecretStr("serving-test-secret-0123456789abcdefghij"),
            home=tmp_path,
            **overrides,
        )
        port = free_port()
        async with serving(settings, dev.client, database_url, host="127.0.0.1", port=port):
            yield f"http://127.0.0.1:{port}"

    yield start


async def lookup(client: httpx.AsyncClient, number: str, email: str, **headers: str) -> str:
    form = await client.get("/track")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    answer = await client.post(
        "/track",
        data={"csrf": csrf.group(1), "number": number, "email": email},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    return answer.text


async def test_forwarded_for_is_believed_only_from_a_trusted_proxy(serve: Serve) -> None:
    async with serve() as url, httpx.AsyncClient(base_url=url) as client:
        # 30 lookups spend 127.0.0.1's window (each a new number and email, so only the
        # address's window fills).
        for i in range(30):
            await lookup(client, f"TKT-{900000 + i}", f"guess{i}@example.com")
        spoofed = await lookup(
            client, "TKT-000001", "jane@example.com", **{"X-Forwarded-For": "1.2.3.4"}
        )
        assert "No internet" not in spoofed and "could not find a ticket" in spoofed
    # Named as a proxy, 127.0.0.1's forwarded address is the client's (its own window).
    async with serve(trusted_proxies="127.0.0.1") as url, httpx.AsyncClient(base_url=url) as c:
        forwarded = await lookup(
            c, "TKT-000001", "jane@example.com", **{"X-Forwarded-For": "1.2.3.4"}
        )
        assert "No internet" in forwarded


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """What the server sent before closing (b"" when it reset a connection with our unread
    bytes pending). The timeout guards the suite from hanging; it measures nothing."""
    try:
        return await asyncio.wait_for(reader.read(), timeout=120)
    except ConnectionResetError:
        return b""


async def test_a_request_head_too_large_is_refused(serve: Serve) -> None:
    async with serve(api_max_header_bytes=16 * 1024) as url:
        port = int(url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        big = b"x" * (4 * 1024 * 1024)
        writer.write(b"GET /track HTTP/1.1\r\nHost: api\r\nX-Big: " + big + b"\r\n\r\n")
        try:
            await writer.drain()
        except ConnectionError:
            pass  # closed while we were still sending: refused as well
        answer = await read_until_closed(reader)
        writer.close()
    assert not answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer[:200]


async def test_a_connection_that_never_finishes_its_head_is_closed(serve: Serve) -> None:
    async with serve(api_idle_timeout=1) as url:
        port = int(url.rsplit(":", 1)[1])
        connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(5)]
        for _, writer in connections:
            writer.write(b"GET /track HTTP/1.1\r\nHost: api\r\n")  # and never the blank line
            await writer.drain()
        # Trickling more header bytes does not buy time either.
        trickle_reader, trickle = connections[0]
        for i in range(3):
            trickle.write(f"X-More-{i}: y\r\n".encode())
            await trickle.drain()
            await asyncio.sleep(0.5)
        closed = [await read_until_closed(reader) for reader, _ in connections]
        for _, writer in connections:
            writer.close()
        # The server still answers a well-behaved client.
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/track")).status_code == 200
    assert closed == [b""] * 5


async def test_the_api_starts_while_temporal_is_down_and_connects_when_it_is_up(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A uvicorn worker (re)started while Temporal is down used to fail its start-up, and
    uvicorn then stopped the whole API (exit 0): found by the chaos run (issue 27)."""
    port = find_free_port()
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{port}")
    settings = Settings(database_url=database_url, home=tmp_path)
    async with open_ports(settings, database_url=database_url) as ports:
        assert isinstance(ports.watchers, DeferredWatchers)
        inline = ports.watchers.inner
        assert isinstance(inline, TemporalWatchers)
        async with TemporalDevServer(
            tmp_path / "temporal", port=port, ui_port=find_free_port(), headless=True
        ):
            counted = await inline.client.count_workflows()
    assert counted.count == 0


async def test_deferred_watcher_starts_are_the_default_and_a_setting(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{find_free_port()}")
    monkeypatch.delenv("TICKETING_API_DEFER_WATCHERS", raising=False)
    assert Settings(database_url=database_url, home=tmp_path).api_defer_watchers is True
    monkeypatch.setenv("TICKETING_API_DEFER_WATCHERS", "false")
    settings = Settings(database_url=database_url, home=tmp_path)
    async with open_ports(settings, database_url=database_url) as ports:
        assert isinstance(ports.watchers, TemporalWatchers)
