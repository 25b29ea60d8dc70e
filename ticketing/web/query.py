"""Query parameters an operation does not declare are refused, so a typo never widens a list,
a single-valued one given twice is refused rather than read as its last value, and no value
carries a NUL character (PostgreSQL text cannot hold one: it would fail as a database error)."""

from __future__ import annotations

import types
import typing
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from ticketing.core.errors import InvalidInput
from ticketing.core.fields import no_nul
from ticketing.web.deps import current_principal


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


def reject_unknown_query(request: Request, known: dict[int, dict[str, bool]]) -> None:
    """`?stauts=open` is an error naming `stauts`, not the whole unfiltered list. `known`: the
    declared parameters of the routes seen so far, by route."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed = known.get(id(route))
    if allowed is None:
        allowed = known[id(route)] = declared_query(route.dependant)
    items = request.query_params.multi_items()
    given = Counter(name for name, _ in items)
    for name, count in given.items():
        if name not in allowed:
            raise InvalidInput(name or "query", None, "is not a parameter of this operation")
        if count > 1 and not allowed[name]:
            raise InvalidInput(name, None, f"is given {count} times; it takes one value")
    for name, value in items:
        try:
            no_nul(value)
        except ValueError as exc:
            raise InvalidInput(name, value, str(exc)) from None


class QueryCheckedRoute(APIRoute):
    """An API operation that refuses query parameters it does not declare before it reads
    anything else. A route class rather than an app-wide dependency: FastAPI solves each
    dependency of a request in turn, and this check needs none of that."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        # The route the request was matched to: this one, as the app included it.
        known: dict[int, dict[str, bool]] = {}

        async def checked(request: Request) -> Response:
            try:
                reject_unknown_query(request, known)
            except InvalidInput:
                # The key first: a caller without one learns nothing, not even which
                # parameter names exist (401 as for any other request of theirs).
                await current_principal(request)
                raise
            return await handler(request)

        return checked
