"""Checks on path and query values, so both stores answer a bad id the same way (400)."""

from __future__ import annotations

from urllib.parse import unquote

from fastapi import Request

from roster.domain.element_rules import MAX_ID_LENGTH
from roster.domain.errors import InvalidParameter

MAX_UID = 2**63 - 1


def text_param(value: str, name: str, *, max_length: int = MAX_ID_LENGTH) -> str:
    """An id from the URL: refused when it holds a NUL character or is too long."""
    if "\x00" in value:
        raise InvalidParameter(f"'{name}' must not contain a NUL character", field=name)
    if len(value) > max_length:
        raise InvalidParameter(f"'{name}' holds at most {max_length} characters", field=name)
    return value


def raw_path_id(request: Request, before: int, after: int, name: str) -> str:
    """The id in the path as the client encoded it: the segments of the undecoded path between
    the first ``before`` and the last ``after``, each percent-decoded on its own. A client that
    encodes ``/`` as ``%2F`` (Customer.io's does) gets ``team/ada`` back whole, never split at
    the slash the server would otherwise see; an unencoded ``/`` joins its segments."""
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    segments = raw.split(b"/")[1:]  # the path starts with "/"
    inner = segments[before : len(segments) - after]
    value = "/".join(unquote(s.decode("latin-1"), encoding="utf-8") for s in inner)
    if not value:
        raise InvalidParameter(f"'{name}' must not be empty", field=name)
    return text_param(value, name)
