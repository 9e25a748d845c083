"""The access log and the request metrics: one ``http.request`` line and one count per request.

A request is named by its route template (``/v1/batches/{batch_id}``), never its raw path, so
neither the log's ``route`` nor the metrics' labels carry customer ids; a path no route
matches is ``unmatched``. The line also names the caller's workspace (once authenticated,
``deps.workspace_of``) and the batch the response carries (a write's ``batch_id``, or the
one a path names).
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roster import metrics

log = structlog.get_logger("roster.access")
UNMATCHED = "unmatched"


class AccessLog:
    """ASGI middleware: time each HTTP request to the end of its response, then log and count
    it. Inside ``EncodedSlashes``, so it sees the scope the router fills in."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception escaped every handler

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            _record(scope, status, time.perf_counter() - started)


#: The methods counted by name; any other a client invents is counted as ``other`` (a label's
#: values stay a fixed set).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_of(scope: Scope) -> str:
    """The template of the route that answered, or ``unmatched``."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


def _record(scope: Scope, status: int, seconds: float) -> None:
    method, route = scope["method"], route_of(scope)
    labels = (method if method in METHODS else "other", route, str(status))
    metrics.HTTP_REQUESTS.labels(*labels).inc()
    metrics.HTTP_SECONDS.labels(*labels).observe(seconds)
    state: dict[str, Any] = scope.get("state") or {}
    batch_id = state.get("batch_id") or (scope.get("path_params") or {}).get("batch_id")
    log.info(
        "http.request",
        method=method,
        route=route,
        status=status,
        ms=round(seconds * 1000, 1),
        workspace_id=state.get("workspace_id"),
        batch_id=batch_id,
    )
