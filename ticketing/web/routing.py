"""The router every /api/v1 operation hangs from."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.routing import APIRoute

from ticketing.web.problems import PROBLEMS
from ticketing.web.query import QueryCheckedRoute


def api_router(prefix: str, tag: str, route_class: type[APIRoute] = QueryCheckedRoute) -> APIRouter:
    """Operations that document their problem+json answers and refuse query parameters they
    do not declare (`route_class` must keep that check: subclass `QueryCheckedRoute`)."""
    return APIRouter(prefix=prefix, tags=[tag], responses=PROBLEMS, route_class=route_class)
