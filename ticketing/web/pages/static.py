"""Static files of the pages (stylesheets, scripts): served by the app from package folders,
so `script-src 'self'` holds and nothing is fetched from elsewhere."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.exceptions import HTTPException

TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


def _read(packages: tuple[str, ...]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for package in packages:
        folder = files(package).joinpath("static")
        for entry in folder.iterdir():
            suffix = "." + entry.name.rpartition(".")[2]
            if entry.is_file() and suffix in TYPES:
                found.setdefault(entry.name, entry.read_bytes())
    return found


def static_router(prefix: str, *packages: str) -> APIRouter:
    """`GET {prefix}/{name}` for the files in each package's `static/` folder (the first
    package wins a name); read once, at start-up: only files that shipped can be served."""
    content = _read((*packages, "ticketing.web.pages"))
    router = APIRouter(include_in_schema=False)

    @router.get(prefix + "/{name}")
    async def static_file(name: str) -> Response:
        body = content.get(name)
        if body is None:
            raise HTTPException(404, "no such file")
        kind = TYPES["." + name.rpartition(".")[2]]
        # Versioned by the release, not by name: an hour keeps a new deploy's files fresh.
        return Response(body, media_type=kind, headers={"Cache-Control": "private, max-age=3600"})

    return router
