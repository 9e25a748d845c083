"""Receiving an uploaded file into a temporary file, as it streams in: a ``text/csv`` body, or
the file part of a ``multipart/form-data`` body. Never more than one network chunk is held in
memory, and a file over the limit is refused (413) as soon as it passes it."""

from __future__ import annotations

import hashlib
from typing import IO

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from roster.api.body import stream_decoded
from roster.domain.errors import InvalidEnvelope, PayloadTooLarge, UnsupportedMediaType

CSV_TYPES = ("text/csv", "application/csv", "text/plain")
MULTIPART = "multipart/form-data"
#: Room for a multipart body's boundaries and part headers beyond the file's own limit.
MULTIPART_OVERHEAD = 65_536


async def receive_file(request: Request, into: IO[bytes], limit: int) -> str:
    """Write the uploaded file into ``into``; return its SHA-256 (hex)."""
    ctype = request.headers.get("content-type", "")
    media = ctype.split(";", 1)[0].strip().lower()
    if media in CSV_TYPES:
        return await _plain(request, into, limit)
    if media == MULTIPART:
        return await _multipart(request, ctype, into, limit)
    accepted = ", ".join((*CSV_TYPES, MULTIPART))
    raise UnsupportedMediaType(
        f"Content-Type must be one of {accepted}, got {ctype or 'nothing'!r}",
        field="Content-Type",
    )


async def _plain(request: Request, into: IO[bytes], limit: int) -> str:
    digest = hashlib.sha256()
    async for piece in stream_decoded(request, limit, "the file"):
        digest.update(piece)
        into.write(piece)
    return digest.hexdigest()


class _FilePart:
    """Push-parser callbacks keeping the one file part (a part with a ``filename``, or the
    part named ``file``); other fields are ignored."""

    def __init__(self, into: IO[bytes], limit: int) -> None:
        self.into = into
        self.limit = limit
        self.digest = hashlib.sha256()
        self.size = 0
        self.files = 0
        self.in_file = False
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value_part,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
        }

    def part_begin(self) -> None:
        self.in_file = False
        self.disposition = b""

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def header_value_part(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name = self.header_value = b""

    def headers_finished(self) -> None:
        _, params = parse_options_header(self.disposition)
        if b"filename" in params or params.get(b"name") == b"file":
            self.files += 1
            if self.files > 1:
                raise InvalidEnvelope("send one file per import", field="file")
            self.in_file = True

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.in_file:
            return
        piece = data[start:end]
        self.size += len(piece)
        if self.size > self.limit:
            raise PayloadTooLarge(f"the file is over {self.limit} bytes, the most accepted")
        self.digest.update(piece)
        self.into.write(piece)


async def _multipart(request: Request, ctype: str, into: IO[bytes], limit: int) -> str:
    _, params = parse_options_header(ctype)
    boundary = params.get(b"boundary")
    if not boundary:
        raise InvalidEnvelope("the multipart Content-Type has no boundary", field="Content-Type")
    part = _FilePart(into, limit)
    parser = MultipartParser(boundary, part.callbacks())  # type: ignore[arg-type]
    try:
        async for piece in stream_decoded(request, limit + MULTIPART_OVERHEAD):
            parser.write(piece)
        parser.finalize()
    except FormParserError as exc:
        raise InvalidEnvelope(f"the multipart body is not valid: {exc}", field="$") from None
    if part.files == 0:
        msg = "the multipart body has no file: send it as the part named 'file'"
        raise InvalidEnvelope(msg, field="file")
    return part.digest.hexdigest()
