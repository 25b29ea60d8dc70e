"""The agent desk's router: sign-in, queue, ticket pages, new ticket and static files."""

from __future__ import annotations

from fastapi import APIRouter

from ticketing.web.desk import new, queue, signin, ticket
from ticketing.web.desk.config import DeskConfig
from ticketing.web.desk.session import Desk
from ticketing.web.pages import static_router


def desk_router(config: DeskConfig) -> APIRouter:
    """Every desk page (out of the OpenAPI document: pages, not API operations)."""
    desk = Desk(config)
    router = APIRouter(tags=["desk"], include_in_schema=False)
    signin.register(router, desk)
    queue.register(router, desk)
    ticket.register(router, desk)
    new.register(router, desk)
    router.include_router(static_router("/desk/static", "ticketing.web.desk"))
    return router
