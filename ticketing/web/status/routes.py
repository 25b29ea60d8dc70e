"""GET /status?tenant=ID (HTML) and GET /status.json?tenant=ID: a tenant's active outages.

Public and read-only: no cookie, no form. An unknown tenant gets the same page as a tenant with
no outages (200, "No known outages"), so the page does not tell which tenants exist beyond
what its name shows. The headers are the tracking page's: CSP with the inline style by hash,
no-store, frame-ancestors 'none'."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException

from ticketing.outages.public import StatusPage, status_page
from ticketing.web.pages import BASE_CSS, PageKit

DEFAULT_ORG = "Service status"
STATUS_CSS = """
.outages{list-style:none;padding:0;margin:0}
.outage{border:1px solid #767676;border-left:6px solid #b3261e;border-radius:4px;
padding:.75rem 1rem;margin:0 0 1rem}
.outage h2{margin:.25rem 0 .5rem;overflow-wrap:anywhere}
.outage h3{font-size:1rem;margin:1rem 0 0}.outage time{white-space:nowrap}
.tags{list-style:none;padding:0;margin:0;display:flex;flex-wrap:wrap;gap:.25rem}
.tags li{border:1px solid #595959;border-radius:3px;padding:0 .4rem;font-size:.9rem;
overflow-wrap:anywhere}
.all-clear{border-left:4px solid #146c2e;background:#e6f4ea;padding:.75rem 1rem}
""".strip()
KIT = PageKit("ticketing.web.status", inline_css=BASE_CSS + "\n" + STATUS_CSS)


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    ports = getattr(request.app.state, "ports", None)
    if ports is None:
        raise HTTPException(503, "the status page is starting")
    sessions: async_sessionmaker[AsyncSession] = ports.sessions
    return sessions


def status_json(page: StatusPage) -> dict[str, object]:
    return {
        "tenant_id": page.tenant_id,
        "checked_at": page.checked_at.isoformat(),
        "outages": [o.as_json() for o in page.outages],
    }


def status_router() -> APIRouter:
    router = APIRouter(tags=["status"], include_in_schema=False)

    async def read(request: Request, tenant: str) -> StatusPage:
        async with _sessions(request)() as session:
            return await status_page(session, tenant[:200])

    @router.get("/status")
    async def status_html(request: Request, tenant: str = "") -> Response:
        page = await read(request, tenant)
        html = KIT.render(
            "status.html",
            page_title="Service status",
            org=page.tenant_name or DEFAULT_ORG,
            page=page,
        )
        return KIT.response(html)

    @router.get("/status.json")
    async def status_data(request: Request, tenant: str = "") -> Response:
        page = await read(request, tenant)
        return JSONResponse(status_json(page), headers=KIT.headers)

    return router
