"""Unknown query parameters are refused, not ignored.

An auditor who types ``after_sq=500`` must not silently get the log from seq 0.
Every route's known parameters are read from its dependency tree once.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.errors import InvalidParameters
from ledger.errors import FieldError


def _known(route: APIRoute) -> frozenset[str]:
    # Routes are not hashable, so the answer is kept on the route itself.
    known: frozenset[str] | None = getattr(route, "_ledger_known_query", None)
    if known is None:
        known = frozenset(_names(route.dependant))
        route._ledger_known_query = known  # type: ignore[attr-defined]
    return known


def _names(dependant: Dependant) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _names(sub)
    return names


async def reject_unknown_query(request: Request) -> None:
    """422 when the query string names a parameter the route does not take (the name is not echoed)."""
    if not request.scope.get("query_string"):  # most requests: no query string to parse
        return
    route = request.scope.get("route")
    if not request.query_params or not isinstance(route, APIRoute):
        return
    if set(request.query_params) - _known(route):
        raise InvalidParameters(FieldError("query", "unknown query parameter; see the route's documented parameters"))
