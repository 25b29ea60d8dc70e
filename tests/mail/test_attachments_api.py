"""Attachments of a mailed ticket over the API: listed on the ticket and its messages,
downloaded under the ticket's scoping, from PostgreSQL or from the filesystem store."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.mail import messages as m
from tests.mail.conftest import RecordingPorts, Sessions
from tests.web.support import Keys, api_app, clear_keys, seed
from ticketing.auth.principal import Principal
from ticketing.mail.flows import IntakeConfig, MailIntake
from ticketing.mail.mailboxes import MailboxService
from ticketing.tickets.attachments.store import AttachmentStores


@pytest_asyncio.fixture
async def api(
    committed: Sessions, engine: AsyncEngine
) -> AsyncIterator[tuple[httpx.AsyncClient, Keys]]:
    keys = await seed(committed)
    async with committed() as s, s.begin():
        await MailboxService(s, Principal.platform()).add("support@acme.test", tenant_id="acme")
    transport = httpx.ASGITransport(app=api_app(committed))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api", headers=keys.auth("tenant_agent")
    ) as client:
        yield client, keys
    await clear_keys(engine)


async def mailed(committed: Sessions, stores: AttachmentStores | None = None) -> None:
    ports = RecordingPorts()
    config = IntakeConfig(stores=stores) if stores else IntakeConfig()
    intake = MailIntake(committed, watchers=ports, notices=ports, config=config)
    created = await intake.receive(m.with_attachment("jane@a.test"))
    assert created.ticket_number == "TKT-000001"
    reply = m.with_attachment("jane@a.test", message_id="<att2@x>").replace(
        b"Subject: Photo of the router", b"Subject: Re: [TKT-000001] Photo"
    )
    assert (await intake.receive(reply)).outcome.value == "appended"


async def test_attachments_are_listed_and_downloaded(api: tuple, committed: Sessions) -> None:
    client, keys = api
    await mailed(committed)
    detail = (await client.get("/api/v1/tickets/TKT-000001")).json()
    files = detail["attachments"]
    assert [set(f) for f in files] == [{"id", "filename", "content_type", "size", "sha256"}] * 4
    assert detail["messages"][0]["attachments"] == []
    assert [f["filename"] for f in detail["messages"][1]["attachments"]] == [
        "router photo.png",
        "modem.log",
    ]
    photo = files[0]
    got = await client.get(f"/api/v1/tickets/TKT-000001/attachments/{photo['id']}")
    assert got.status_code == 200
    assert got.content == b"\x89PNG\r\n\x1a\nfake-png-bytes"
    assert hashlib.sha256(got.content).hexdigest() == photo["sha256"]
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-disposition"] == (
        "attachment; filename=\"router photo.png\"; filename*=UTF-8''router%20photo.png"
    )
    assert got.headers["x-content-type-options"] == "nosniff"
    # Another scope's key: the same 404 as a file that does not exist.
    other = await client.get(
        f"/api/v1/tickets/TKT-000001/attachments/{photo['id']}",
        headers=keys.auth("partner_agent"),
    )
    missing = await client.get(
        "/api/v1/tickets/TKT-000001/attachments/00000000-0000-0000-0000-000000000000"
    )
    assert other.status_code == missing.status_code == 404
    assert other.json()["type"] == "TicketNotFound"
    assert missing.json()["field"] == "attachment"


async def test_the_filesystem_store_keeps_bytes_on_disk(
    api: tuple, committed: Sessions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = api
    monkeypatch.setenv("TICKETING_ATTACHMENT_STORE", "filesystem")
    monkeypatch.setenv("TICKETING_ATTACHMENT_DIR", str(tmp_path))
    await mailed(committed, AttachmentStores.configured("filesystem", tmp_path))
    files = (await client.get("/api/v1/tickets/TKT-000001")).json()["attachments"]
    log = files[1]
    assert (tmp_path / "acme" / log["sha256"]).read_bytes() == b"log line 1\nlog line 2\n"
    got = await client.get(f"/api/v1/tickets/TKT-000001/attachments/{log['id']}")
    assert got.content == b"log line 1\nlog line 2\n"
