"""Checks on path and query values, so both stores answer a bad id the same way (400)."""

from __future__ import annotations

from urllib.parse import unquote

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from roster.domain.element_rules import MAX_ID_LENGTH
from roster.domain.errors import InvalidParameter

MAX_UID = 2**63 - 1
#: Documentation-only constraints (``json_schema_extra``) of values the routes check themselves.
RUN_SCHEMA = {"pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]*$", "maxLength": 100}
#: A time as ``since``/``until`` take it: epoch seconds or milliseconds, or ISO-8601 in UTC.
TIME_SCHEMA = {
    "pattern": "^([0-9]{1,12}|(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    "T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,3})?Z)$"
}


def text_param(value: str, name: str, *, max_length: int = MAX_ID_LENGTH) -> str:
    """An id from the URL: refused when it holds a NUL character or is too long."""
    if "\x00" in value:
        raise InvalidParameter(f"'{name}' must not contain a NUL character", field=name)
    if len(value) > max_length:
        raise InvalidParameter(f"'{name}' holds at most {max_length} characters", field=name)
    return value


def raw_path_id(request: Request, position: int, name: str) -> str:
    """Segment ``position`` of the undecoded path (negative: from the end), percent-decoded on
    its own: an id holding a ``/`` the client encoded (``team%2Fada``) comes back whole."""
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    segments = raw.split(b"/")[1:]  # the path starts with "/"
    value = unquote(segments[position].decode("latin-1"), encoding="utf-8")
    if not value:
        raise InvalidParameter(f"'{name}' must not be empty", field=name)
    return text_param(value, name)


class EncodedSlashes:
    """ASGI middleware: under ``prefix``, route a request by its undecoded path segments, so an
    id holding an encoded ``/`` (Customer.io's client encodes every one) stays one segment and
    reaches the route its path names. The routes read their ids with ``raw_path_id``."""

    def __init__(self, app: ASGIApp, prefix: bytes) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path") or b""
        if scope["type"] == "http" and raw.startswith(self.prefix) and b"%2" in raw.upper():
            segments = [unquote(s.decode("latin-1")).replace("/", "%2F") for s in raw.split(b"/")]
            scope = {**scope, "path": "/".join(segments)}
        await self.app(scope, receive, send)
