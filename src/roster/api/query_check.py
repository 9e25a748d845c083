"""Every route refuses a query parameter it does not take: a typo (``?mach_by=email``) is a 400
naming it, never an option silently left at its default.

The parameters a route takes are the ones it declares (so ``/openapi.json`` lists them). A route
whose names depend on the workspace (``GET /v1/customers?email=``: the workspace's identifier
attributes) says so with ``OPEN_QUERY`` in its ``openapi_extra`` and checks them itself.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from roster.domain.errors import InvalidParameter

#: ``openapi_extra`` key of a route that checks its own query parameter names.
OPEN_QUERY = "x-roster-open-query"
_taken: dict[int, frozenset[str]] = {}


def taken_by(route: APIRoute) -> frozenset[str]:
    """The query parameter names ``route`` declares."""
    found = _taken.get(id(route))
    if found is None:
        found = _taken[id(route)] = frozenset(_names(route.dependant))
    return found


def _names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for inner in dependant.dependencies:
        names |= _names(inner)
    return names


def refuse_unknown(names: list[str], taken: frozenset[str] | set[str]) -> None:
    """A 400 naming the first of ``names`` not in ``taken``."""
    for name in names:
        if name not in taken:
            listed = ", ".join(sorted(taken)) or "none"
            msg = f"unknown query parameter {name[:60]!r}: this route takes {listed}"
            raise InvalidParameter(msg, field=name[:60])


async def check_query(request: Request) -> None:
    """App-wide dependency: refuse a query parameter the route does not declare."""
    route = request.scope.get("route")
    if not request.query_params or not isinstance(route, APIRoute):
        return
    if (route.openapi_extra or {}).get(OPEN_QUERY):
        return
    refuse_unknown(list(request.query_params.keys()), taken_by(route))
