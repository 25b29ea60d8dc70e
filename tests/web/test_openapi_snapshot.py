"""The public HTTP contract: the served OpenAPI document equals the committed snapshot, so a
restructure cannot change paths, fields or documented statuses without a reviewed diff.

A deliberate change: `python -m tests.web.test_openapi_snapshot` rewrites the snapshot; commit it
with the change that explains it."""

from __future__ import annotations

import asyncio
import difflib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from ticketing.web.app import create_app
from ticketing.web.deps import ApiPorts

SNAPSHOT = Path(__file__).with_name("openapi.snapshot.json")


@asynccontextmanager
async def _no_ports() -> AsyncIterator[ApiPorts]:
    raise AssertionError("serving the document must not open ports")
    yield  # pragma: no cover


async def served_document() -> dict[str, Any]:
    """The document as a client fetches it from the app `ticketing api` builds."""
    transport = httpx.ASGITransport(app=create_app(connect=_no_ports))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def as_text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


async def test_the_openapi_document_equals_the_snapshot() -> None:
    served = await served_document()
    committed = SNAPSHOT.read_text()
    diff = difflib.unified_diff(
        committed.splitlines(), as_text(served).splitlines(), "snapshot", "served", lineterm=""
    )
    assert served == json.loads(committed), "\n".join(diff)


if __name__ == "__main__":
    SNAPSHOT.write_text(as_text(asyncio.run(served_document())))
    print(f"wrote {SNAPSHOT}")
