"""The durable IMAP poller end to end: a real Temporal dev server, the real worker process
(`ticketing worker`), Debian's Dovecot, and mail becoming a ticket with nobody calling."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from tests.conftest import truncate
from tests.mail import messages as m
from tests.ops.support import in_thread
from tests.ops.test_cli import BackgroundWorker
from ticketing_ops.cli import app
from ticketing_ops.devstack import TemporalDevServer, find_free_port
from ticketing_ops.dovecot import PASSWORD, Dovecot, dovecot

SECRET = "a-test-secret-of-at-least-thirty-two-characters"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def temporal(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    home = Path(tmp_path_factory.mktemp("temporal-mail"))
    async with TemporalDevServer(home, port=find_free_port(), headless=True) as server:
        yield server.target_host


@pytest.fixture(scope="module")
def imap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    with dovecot(Path(tmp_path_factory.mktemp("dovecot-poller"))) as server:
        yield server


def test_the_worker_polls_imap_and_flags_after_commit(
    temporal: str, imap: Dovecot, database_url: str, owner_url: str
) -> None:
    env = {
        "TICKETING_DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": temporal,
        "TICKETING_TASK_QUEUE": "mail-poller-tests",
        "TICKETING_SECRET_KEY": SECRET,
        "TICKETING_MAIL_IMAP_POLL_SECONDS": "1",
        "TICKETING_METRICS_PORT": str(metrics_port := find_free_port()),
    }
    runner = CliRunner()

    def cli(*args: str, input: str | None = None) -> Any:
        result = in_thread(lambda: runner.invoke(app, list(args), env=env, input=input))
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return json.loads(result.stdout) if "--json" in args else result

    async def empty() -> None:
        engine = create_async_engine(owner_url)
        await truncate(engine)
        await engine.dispose()

    in_thread(asyncio.run, empty())
    cli("tenant", "add", "acme")
    cli(
        "mailbox", "add", "support@acme.test", "--tenant", "acme", "--senders", "anyone",
        "--imap", f"imap://poller%40acme.test@127.0.0.1:{imap.port}/INBOX",
        "--imap-password-stdin", "--json", input=f"{PASSWORD}\n",
    )  # fmt: skip
    imap.deliver("poller@acme.test", m.plain(), m.out_of_office())
    try:
        with BackgroundWorker(env, database_url):
            deadline = time.monotonic() + 60
            while imap.unflagged("poller@acme.test") and time.monotonic() < deadline:
                time.sleep(0.5)
            assert imap.unflagged("poller@acme.test") == 0
            listed = cli("mail", "list", "--json")
            assert sorted(r["outcome"] for r in listed) == ["created", "ignored"]
            # A message arriving later is taken by a later pass of the same poller.
            imap.deliver("poller@acme.test", m.plain(message_id="<later@x>", subject="Later"))
            deadline = time.monotonic() + 60
            while imap.unflagged("poller@acme.test") and time.monotonic() < deadline:
                time.sleep(0.5)
            assert len(cli("mail", "list", "--outcome", "created", "--json")) == 2
            # The worker's metrics count the IMAP door's outcomes.
            metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
            counted = {
                line.split("outcome=\"")[1].split("\"")[0]: float(line.rsplit(" ", 1)[1])
                for line in metrics.splitlines()
                if line.startswith("ticketing_mail_received") and 'door="imap"' in line
            }
            assert counted == {"created": 2.0, "ignored": 1.0}, metrics[-2000:]
    finally:
        in_thread(asyncio.run, empty())
