"""Query parameters an operation does not declare are refused, so a typo never widens a list,
and a single-valued one given twice is refused rather than read as its last value."""

from __future__ import annotations

import types
import typing
from collections import Counter

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from ticketing.core.errors import InvalidInput


def declared_query(dependant: Dependant) -> dict[str, bool]:
    """The query parameters an operation (and its dependencies) read, each with whether it
    takes several values."""
    names = {param.alias: _many(param.field_info.annotation) for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= declared_query(sub)
    return names


def _many(annotation: object) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_many(arg) for arg in typing.get_args(annotation))
    return origin in (list, set, tuple, frozenset)


async def reject_unknown_query(request: Request) -> None:
    """`?stauts=open` is an error naming `stauts`, not the whole unfiltered list."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not route.path.startswith("/api/"):
        return
    allowed = declared_query(route.dependant)
    given = Counter(name for name, _ in request.query_params.multi_items())
    for name, count in given.items():
        if name not in allowed:
            raise InvalidInput(name or "query", None, "is not a parameter of this operation")
        if count > 1 and not allowed[name]:
            raise InvalidInput(name, None, "is given more than once; it takes one value")
