"""/docs and /redoc load only the app's own files: they render on a machine with no internet."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from html.parser import HTMLParser

import httpx
import pytest
import pytest_asyncio

from ticketing.web.app import create_app
from ticketing.web.deps import ApiPorts


class _Assets(HTMLParser):
    """Every URL a page makes the browser fetch: `src` and `href` attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def _never_opened() -> AbstractAsyncContextManager[ApiPorts]:
    raise AssertionError("the docs pages need no database or Temporal")


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # httpx's ASGI transport runs no lifespan, so the ports are never opened.
    transport = httpx.ASGITransport(app=create_app(connect=_never_opened))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


@pytest.mark.parametrize(
    ("page", "scripts", "styles"),
    [("/docs", 1, 1), ("/redoc", 1, 0)],
)
async def test_docs_pages_fetch_only_same_origin_assets_that_are_served(
    client: httpx.AsyncClient, page: str, scripts: int, styles: int
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    html = response.text
    # No CDN, no protocol-relative URL, no web font: nothing leaves the app's own origin.
    assert not re.search(r"https?:|['\"(=]\s*//", html), html
    # The API sets no Content-Security-Policy; one added later must allow the inline start-up
    # script Swagger UI needs, or the page goes blank again.
    assert "content-security-policy" not in response.headers

    parser = _Assets()
    parser.feed(html)
    assert parser.urls, "the page references no assets at all"
    kinds = {"js": 0, "css": 0}
    for url in parser.urls:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        content_type = asset.headers["content-type"]
        if url.endswith(".js"):
            assert content_type.startswith("text/javascript"), (url, content_type)
            assert len(asset.content) > 100_000, "a stub, not the bundle"
            kinds["js"] += 1
        elif url.endswith(".css"):
            assert content_type.startswith("text/css"), (url, content_type)
            kinds["css"] += 1
    assert kinds == {"js": scripts, "css": styles}


async def test_docs_page_loads_the_openapi_document_from_the_app(
    client: httpx.AsyncClient,
) -> None:
    html = (await client.get("/docs")).text
    assert "url: '/openapi.json'" in html
    spec = await client.get("/openapi.json")
    assert spec.status_code == 200
    assert spec.json()["info"]["title"] == "Ticketing API"
