"""Reading request bodies: content type, a hard byte cap while streaming, strict JSON.

A body may come gzip-compressed (``Content-Encoding: gzip``, as Customer.io's and Segment's
clients send with ``gzip=True``): it is decompressed as it streams, and the caps hold for the
decompressed bytes, so a small compressed body that would inflate past them (a compression
bomb) is refused with 413 after inflating at most the cap plus one network chunk.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

from fastapi import Request

from roster.domain.errors import MalformedEncoding, PayloadTooLarge, UnsupportedMediaType

JSON_TYPES = ("application/json",)
ENCODINGS = ("identity", "gzip", "x-gzip")


def require_json(request: Request) -> None:
    ctype = request.headers.get("content-type", "")
    if ctype.split(";", 1)[0].strip().lower() not in JSON_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, got {ctype or 'nothing'!r}",
            field="Content-Type",
        )


def check_declared_length(request: Request, limit: int) -> None:
    """Refuse (413) a body whose ``Content-Length`` is over ``limit``, before reading it (a
    compressed body's length is of its compressed bytes, so over the cap they are too)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is {declared} bytes; at most {limit} are accepted")


def _encoding(request: Request) -> str:
    found = request.headers.get("content-encoding", "identity").strip().lower() or "identity"
    if found not in ENCODINGS:
        raise UnsupportedMediaType(
            f"Content-Encoding must be gzip or identity, got {found[:40]!r}",
            field="Content-Encoding",
        )
    return found


async def stream_decoded(
    request: Request, limit: int, what: str = "the body"
) -> AsyncIterator[bytes]:
    """The body's bytes as they arrive, decompressed if gzip; 413 once more than ``limit``
    (decompressed) bytes came, 400 for a gzip stream that is broken or cut short."""
    encoding = _encoding(request)
    check_declared_length(request, limit)
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding != "identity" else None
    size = 0
    async for piece in request.stream():
        if inflate is not None:
            try:  # never inflate more than the room left (plus one byte, to see it is over)
                piece = inflate.decompress(piece, limit - size + 1)
            except zlib.error as exc:
                msg = f"{what} is not valid gzip: {exc}"
                raise MalformedEncoding(msg, field="Content-Encoding") from None
            if inflate.unconsumed_tail:
                raise PayloadTooLarge(f"{what} inflates to over {limit} bytes, the most accepted")
        size += len(piece)
        if size > limit:
            raise PayloadTooLarge(f"{what} is over {limit} bytes, the most accepted")
        if piece:
            yield piece
    if inflate is not None and not inflate.eof:
        msg = f"{what} is gzip cut short: its stream does not end"
        raise MalformedEncoding(msg, field="Content-Encoding")


async def read_capped(request: Request, limit: int) -> bytes:
    """The whole body (decompressed), refused with 413 as soon as it is over ``limit`` bytes."""
    return b"".join([piece async for piece in stream_decoded(request, limit)])
