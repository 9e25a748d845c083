"""Reading request bodies: content type, a hard byte cap while streaming, strict JSON."""

from __future__ import annotations

from fastapi import Request

from roster.domain.errors import PayloadTooLarge, UnsupportedMediaType

JSON_TYPES = ("application/json",)


def require_json(request: Request) -> None:
    ctype = request.headers.get("content-type", "")
    if ctype.split(";", 1)[0].strip().lower() not in JSON_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, got {ctype or 'nothing'!r}",
            field="Content-Type",
        )


def check_declared_length(request: Request, limit: int) -> None:
    """Refuse (413) a body whose ``Content-Length`` is over ``limit``, before reading it."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is {declared} bytes; at most {limit} are accepted")


async def read_capped(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it is larger than ``limit`` bytes."""
    check_declared_length(request, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over {limit} bytes, the most accepted")
        chunks.append(chunk)
    return b"".join(chunks)
