"""Unknown or repeated query parameters are refused, not ignored.

An auditor who types ``after_sq=500`` must not silently get the log from seq 0,
and one who writes ``tool=a&tool=b`` must not silently get only one tool's
incidents: a parameter that takes one value may be given once (those that take
a list, like ``kind``, are repeatable). Every route's known parameters are read
from its dependency tree once.
"""

from __future__ import annotations

from types import UnionType
from typing import Any, Union, get_args, get_origin

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.errors import InvalidParameters
from ledger.errors import FieldError


def _known(route: APIRoute) -> dict[str, bool]:
    """The route's query parameters, each with whether it may be repeated."""
    # Routes are not hashable, so the answer is kept on the route itself.
    known: dict[str, bool] | None = getattr(route, "_ledger_known_query", None)
    if known is None:
        known = _names(route.dependant)
        route._ledger_known_query = known  # type: ignore[attr-defined]
    return known


def _names(dependant: Dependant) -> dict[str, bool]:
    names = {field.alias: _repeatable(field.field_info.annotation) for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _names(sub)
    return names


def _repeatable(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        return any(_repeatable(arg) for arg in get_args(annotation))
    return origin in (list, tuple, set, frozenset)


async def reject_unknown_query(request: Request) -> None:
    """422 for a parameter the route does not take (its name not echoed), or one value given twice."""
    if not request.scope.get("query_string"):  # most requests: no query string to parse
        return
    route = request.scope.get("route")
    if not request.query_params or not isinstance(route, APIRoute):
        return
    known = _known(route)
    if set(request.query_params) - known.keys():
        raise InvalidParameters(FieldError("query", "unknown query parameter; see the route's documented parameters"))
    for name in request.query_params:
        if not known[name] and len(request.query_params.getlist(name)) > 1:
            raise InvalidParameters(FieldError(name, "is given more than once; it takes one value"))
