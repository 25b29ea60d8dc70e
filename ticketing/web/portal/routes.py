"""The customer portal's router: sign-in, my tickets, a ticket, new ticket and static files."""

from __future__ import annotations

from fastapi import APIRouter

from ticketing.web.pages import static_router
from ticketing.web.portal import new, signin, tickets
from ticketing.web.portal.config import PortalConfig
from ticketing.web.portal.session import Portal

# The paths whose bodies may be larger than the API's limit: a new ticket's files.
UPLOAD_PATH = "/portal/new"


def portal_router(config: PortalConfig) -> APIRouter:
    """Every portal page (out of the OpenAPI document: pages, not API operations)."""
    portal = Portal(config)
    router = APIRouter(tags=["portal"], include_in_schema=False)
    signin.register(router, portal)
    tickets.register(router, portal)
    new.register(router, portal)
    router.include_router(static_router("/portal/static", "ticketing.web.portal"))
    return router
