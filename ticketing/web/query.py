"""Query parameters an operation does not declare are refused, so a typo never widens a list."""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from ticketing.core.errors import InvalidInput


def declared_query(dependant: Dependant) -> set[str]:
    """The query parameter names an operation (and its dependencies) read."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= declared_query(sub)
    return names


async def reject_unknown_query(request: Request) -> None:
    """`?stauts=open` is an error naming `stauts`, not the whole unfiltered list."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not route.path.startswith("/api/"):
        return
    allowed = declared_query(route.dependant)
    for name in request.query_params:
        if name not in allowed:
            raise InvalidInput(name or "query", None, "is not a parameter of this operation")
