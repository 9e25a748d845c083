"""Reading input files record by record, each with the line it starts on, in constant memory.

Three shapes, read as bytes: JSON lines (one JSON value a line; blank lines are skipped), a JSON
array (its elements, split without decoding the whole file), and CSV (RFC 4180 records, which
may hold quoted line breaks; the header is line 1). A ``.gz`` file is read through gzip, and
``-`` is standard input. A record is handed out as its exact bytes, so what is sent is what the
file holds.
"""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Literal

Shape = Literal["jsonl", "json", "csv"]
READ_SIZE = 1 << 16


@dataclass(frozen=True, slots=True)
class Record:
    """One record of an input file: where it starts (1-based line) and its bytes."""

    line: int
    raw: bytes


class InputError(ValueError):
    """The input cannot be read as the kind says (names the file and line)."""


@contextmanager
def opened(path: str) -> Iterator[IO[bytes]]:
    """The file's bytes: standard input for ``-``, through gzip for ``.gz``."""
    if path == "-":
        yield sys.stdin.buffer
        return
    if path.endswith(".gz"):
        with gzip.open(path, "rb") as unzipped:
            yield io.BufferedReader(unzipped)  # peekable, as the shape sniffing needs
        return
    with open(path, "rb") as plain:
        yield plain


def shape_of(path: str, stream: io.BufferedReader | IO[bytes], default: Shape) -> Shape:
    """The file's shape: by its extension (``.csv``, ``.jsonl``/``.ndjson``, ``.json``), else
    ``default``; a JSON file whose first character is ``[`` is an array."""
    name = path.removesuffix(".gz").lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if default == "csv":
        return "csv"
    peek = getattr(stream, "peek", None)
    head = peek(64) if peek is not None else b""
    return "json" if head.lstrip()[:1] == b"[" or name.endswith(".json") else "jsonl"


def read_records(stream: IO[bytes], shape: Shape, path: str) -> Iterator[Record]:
    """Every record of ``stream`` in order (for CSV, the records after the header)."""
    if shape == "jsonl":
        return _json_lines(stream)
    if shape == "json":
        return _json_array(stream, path)
    return _csv_records(stream, path)


def _json_lines(stream: IO[bytes]) -> Iterator[Record]:
    for n, line in enumerate(stream, start=1):
        text = line.strip()
        if text:
            yield Record(n, text)


def _json_array(stream: IO[bytes], path: str) -> Iterator[Record]:
    """The elements of a top-level JSON array of objects, each as its bytes, split by tracking
    braces and strings (the elements themselves are decoded by the server). JSON lines are
    read faster: this walks every byte in Python."""
    split = _ArraySplit(path)
    while block := stream.read(READ_SIZE):
        yield from split.feed(block)
        if split.closed:
            return
    if split.opened:
        raise InputError(f"{path}:{split.line}: the JSON array is not closed with ']'")


class _ArraySplit:
    """The state of splitting a JSON array of objects, fed a block at a time."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.line = 1
        self.opened = self.closed = False
        self.depth = 0
        self.in_string = self.escaped = False
        self.current = bytearray()
        self.start = 0

    def feed(self, block: bytes) -> Iterator[Record]:
        for byte in block:
            if byte == 0x0A:
                self.line += 1
            if self.depth == 0 and not self._starts_element(byte):
                if self.closed:
                    return
                continue
            self.current.append(byte)
            if self._closes_element(byte):
                yield Record(self.start, bytes(self.current))
                self.current.clear()

    def _starts_element(self, byte: int) -> bool:
        """Between elements: whether ``byte`` opens the next one (else it is skipped)."""
        if byte in b" \t\r\n" or (self.opened and byte == 0x2C):
            return False
        if not self.opened:
            if byte != 0x5B:
                raise InputError(f"{self.path}:{self.line}: a JSON array must start with '['")
            self.opened = True
            return False
        if byte == 0x5D:
            self.closed = True
            return False
        if byte != 0x7B:
            msg = f"{self.path}:{self.line}: each element of the array must be an object"
            raise InputError(msg)
        self.start = self.line
        return True

    def _closes_element(self, byte: int) -> bool:
        if self.in_string:
            if self.escaped:
                self.escaped = False
            elif byte == 0x5C:
                self.escaped = True
            elif byte == 0x22:
                self.in_string = False
        elif byte == 0x22:
            self.in_string = True
        elif byte in b"[{":
            self.depth += 1
        elif byte in b"]}":
            self.depth -= 1
            return self.depth == 0
        return False


def _csv_records(stream: IO[bytes], path: str) -> Iterator[Record]:
    """The records after the header: a record ends at a line break outside quotes."""
    line = 0
    current = bytearray()
    start = 0
    quotes = 0
    header_seen = False
    for raw in stream:
        line += 1
        if not current:
            start = line
        current += raw
        quotes += raw.count(b'"')
        if quotes % 2:
            continue  # a quoted field goes on on the next line
        record = bytes(current)
        current.clear()
        quotes = 0
        if not header_seen:
            header_seen = True
            yield Record(start, record)  # line 1: the caller takes it as the header
            continue
        if record.strip(b"\r\n"):
            yield Record(start, record if record.endswith(b"\n") else record + b"\n")
    if current:
        raise InputError(f"{path}:{start}: a quoted field is not closed")


def header_and_records(records: Iterator[Record], path: str) -> tuple[bytes, Iterator[Record]]:
    """Split a CSV file's records into its header line and the records after it."""
    first = next(records, None)
    if first is None:
        raise InputError(f"{path}: the file is empty: a CSV file starts with its header")
    header = first.raw if first.raw.endswith(b"\n") else first.raw + b"\n"
    return header, records
