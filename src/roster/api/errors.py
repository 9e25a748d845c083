"""The one place where errors become HTTP responses.

Bodies follow MoEngage's error envelope, with Roster's stable code, the field and the
element index: ``{"status": "fail", "error": {"code", "type", "message", "field", "index"}}``.
Under Masivo's prefix (``/api/storefront/``) they take Masivo's shape instead, ``{"error",
"details", "field", "index"}``, and a body that breaks a batch rule is 422. On the Data Pipelines
paths they also carry ``code`` and ``message`` at the top, where Customer.io's and Segment's
clients read them (without those, a client takes a 4xx for a network error and retries it).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy.exc
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from roster.api.customerio import PIPELINES_PATHS
from roster.domain import errors as e
from roster.domain.element_rules import excerpt

log = structlog.get_logger("roster.api")

STATUS: list[tuple[type[e.RosterError], int, str]] = [
    (e.PayloadTooLarge, 413, "PayloadTooLarge"),
    (e.UnsupportedMediaType, 415, "MediaTypeError"),
    (e.MalformedBody, 400, "Malformed JSON"),
    (e.InvalidEnvelope, 400, "ValidationError"),
    (e.TooManyElements, 422, "ValidationError"),
    (e.InvalidIdempotencyKey, 400, "ValidationError"),
    (e.IdempotencyKeyReused, 422, "IdempotencyError"),
    (e.RateLimited, 429, "RateLimitError"),
    (e.AuthenticationFailed, 401, "Authentication required"),
    (e.WorkspaceMismatch, 403, "AuthorizationError"),
    (e.NotFound, 404, "NotFound"),
    (e.Conflict, 409, "Conflict"),
    (e.InvalidSetting, 422, "ValidationError"),
    (e.RequestRejected, 400, "ValidationError"),
]


def fail_body(code: str, kind: str, message: str, field: str | None, index: int | None) -> Any:
    error = {"code": code, "type": kind, "message": message, "field": field, "index": index}
    return {"status": "fail", "error": error}


#: Under Masivo's prefix, a body that breaks a batch rule (malformed, a wrong envelope, too
#: many entries) is 422 ``{"error", "details"}``, as the vendor documents.
MASIVO_PREFIX = "/api/storefront/"
MASIVO_UNPROCESSABLE = (e.MalformedBody, e.InvalidEnvelope, e.TooManyElements)


def response_for(exc: e.RosterError, path: str = "") -> JSONResponse:
    status, kind = next(((s, k) for cls, s, k in STATUS if isinstance(exc, cls)), (400, "Error"))
    body = fail_body(exc.code, kind, exc.message, exc.field, exc.index)
    if path in PIPELINES_PATHS:  # the clients raise their APIError from these two
        body = {"code": exc.code, "message": exc.message, **body}
    if path.startswith(MASIVO_PREFIX):
        if isinstance(exc, MASIVO_UNPROCESSABLE):
            status = 422
        body = {"error": exc.code, "details": exc.message, "field": exc.field, "index": exc.index}
    headers: dict[str, str] = {}
    if isinstance(exc, e.AuthenticationFailed):
        headers["WWW-Authenticate"] = 'Basic realm="roster"'
    if isinstance(exc, e.RateLimited):
        headers.update(
            {
                "Retry-After": str(exc.retry_after),
                "X-RateLimit-Limit": str(exc.limit),
                "X-RateLimit-Remaining": str(exc.remaining),
                "X-RateLimit-Reset": str(exc.reset_at),
            }
        )
    return JSONResponse(body, status_code=status, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """The methods the routes of the request's path answer (several routes may share a path)."""
    found: set[str] = set()
    for route in request.app.router.routes:
        methods = getattr(route, "methods", None)
        if methods and route.matches(request.scope)[0] != Match.NONE:
            found |= methods
    return sorted(found)


def install(app: FastAPI) -> None:
    @app.exception_handler(e.RosterError)
    async def _roster(request: Request, exc: e.RosterError) -> JSONResponse:
        return response_for(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        body = fail_body(
            "invalid_parameter", "ValidationError", first.get("msg", "invalid"), field, None
        )
        return JSONResponse(body, status_code=400)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":  # no route has the path
            path = excerpt(request.url.path)
            message = f"no route serves {request.method} {path} (docs/api.md lists the routes)"
        body = fail_body("http_error", "HTTPError", message, None, None)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every route of the path, not only the first that matched
            headers["Allow"] = ", ".join(allowed_methods(request))
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    @app.exception_handler(sqlalchemy.exc.DataError)
    async def _data(_: Request, exc: sqlalchemy.exc.DataError) -> JSONResponse:
        # A path or query value the database refuses (PostgreSQL: a NUL character, a number
        # out of range): the client's input, never a reason to answer 500.
        log.warning("api.value_refused_by_database", error=str(exc.orig))
        message = "a value in the request cannot be looked up (a NUL character or out of range)"
        body = fail_body("invalid_parameter", "ValidationError", message, None, None)
        return JSONResponse(body, status_code=400)

    @app.exception_handler(sqlalchemy.exc.OperationalError)
    async def _database(_: Request, exc: sqlalchemy.exc.OperationalError) -> JSONResponse:
        log.error("api.database_unavailable", error=str(exc.orig))
        body = fail_body("unavailable", "ServerError", "the database is unavailable", None, None)
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
