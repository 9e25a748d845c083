"""Packing records into requests: as many as fit one request's limits, in file order.

Packing depends only on the files and the limits, never on timing, so a run interrupted and
started again cuts the same chunks, and each chunk's ``Idempotency-Key`` names the same body.
A chunk's body gathers in memory; past a megabyte it goes to a spooled temporary file (in
memory up to a few megabytes, on disk beyond), so memory stays flat whatever the size of a
request (a CSV import may be 100 MB).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import msgspec

from roster.loader.kinds import Limits, LoadKind
from roster.loader.records import (
    InputError,
    header_and_records,
    opened,
    read_records,
    shape_of,
)

SPOOL_BYTES = 4 << 20
FLUSH_BYTES = 1 << 20
_check_json = msgspec.json.Decoder().decode


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that cannot be sent (not JSON): reported on its line, never sent, so it does not
    take the other records of its request down with it."""

    file: int
    line: int
    message: str


@dataclass(slots=True)
class Chunk:
    """One request's records: their file, the line each starts on, and (when a record holds
    several ledger elements) how many each holds."""

    seq: int
    file: int
    lines: list[int]
    counts: list[int] | None
    body: IO[bytes]
    size: int

    @property
    def elements(self) -> int:
        return sum(self.counts) if self.counts is not None else len(self.lines)


def chunks(
    kind: LoadKind, files: list[str], limits: Limits, max_elements: int | None
) -> Iterator[Chunk | Rejected]:
    """Every chunk of the files, in order; ``max_elements`` caps a request's elements (a
    workspace's per-minute budget: a request over it would be refused whatever the wait)."""
    seq = 0
    for index, path in enumerate(files):
        with opened(path) as stream:
            shape = shape_of(path, stream, kind.shape)
            records = read_records(stream, shape, path)
            header = b""
            if shape == "csv":
                header, records = header_and_records(records, path)
            packer = _Packer(kind, limits, max_elements, header)
            try:
                for record in records:
                    try:
                        raw = kind.convert(record.raw, header) if kind.convert else record.raw
                        if shape != "csv" or kind.convert is not None:
                            _check_json(raw)
                        count = kind.elements(raw) if kind.elements else 1
                    except (InputError, msgspec.DecodeError) as exc:
                        yield Rejected(index, record.line, f"the record cannot be sent: {exc}")
                        continue
                    if not packer.fits(len(raw), count):
                        if not packer.lines:
                            size = kind.size(len(raw), 1, header)
                            msg = f"{path}:{record.line}: a record of {size} bytes in a request"
                            raise InputError(f"{msg} is over the {limits.max_bytes} one may hold")
                        yield packer.chunk(seq, index)
                        seq += 1
                        packer = _Packer(kind, limits, max_elements, header)
                    packer.add(raw, record.line, count)
                if packer.lines:
                    yield packer.chunk(seq, index)
                    seq += 1
            finally:
                packer.close()


class _Packer:
    """One chunk being filled: records gather in memory and go to a spooled file a megabyte at a
    time, so a chunk is never held whole (a CSV import may be 100 MB), and a request-sized one
    (100 KB) costs one join, not two file writes a record."""

    def __init__(
        self, kind: LoadKind, limits: Limits, max_elements: int | None, header: bytes
    ) -> None:
        self.kind, self.max_elements = kind, max_elements
        self.max_bytes, self.max_records = limits.max_bytes, limits.max_records
        self.opening = kind.prefix + (header if kind.with_header else b"")
        #: The body's bytes beside its records: what ``LoadKind.size`` adds to them.
        self.fixed = len(self.opening) + len(kind.suffix)
        self.separator = kind.separator
        self.parts: list[bytes] = []
        self.buffered = 0
        self.spool: IO[bytes] | None = None
        self.lines: list[int] = []
        self.counts: list[int] = []
        self.bytes = 0
        self.elements = 0
        self.handed_out = False

    def fits(self, size: int, count: int) -> bool:
        n = len(self.lines)  # records before this one, each followed by a separator
        if self.fixed + self.bytes + size + n * len(self.separator) > self.max_bytes:
            return False
        if self.max_records is not None and n >= self.max_records:
            return False
        return self.max_elements is None or self.elements + count <= self.max_elements

    def add(self, raw: bytes, line: int, count: int) -> None:
        self.parts.append(self.separator if self.lines else self.opening)
        self.parts.append(raw)
        self.lines.append(line)
        self.counts.append(count)
        self.bytes += len(raw)
        self.elements += count
        self.buffered += len(raw)
        if self.buffered >= FLUSH_BYTES:
            self._spill()

    def _spill(self) -> None:
        if self.spool is None:
            self.spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        self.spool.write(b"".join(self.parts))
        self.parts.clear()
        self.buffered = 0

    def chunk(self, seq: int, file: int) -> Chunk:
        self.parts.append(self.kind.suffix)
        body: IO[bytes]
        if self.spool is None:
            data = b"".join(self.parts)
            body, size = io.BytesIO(data), len(data)
        else:
            self._spill()
            body = self.spool
            size = body.tell()
            body.seek(0)
        counts = None if all(c == 1 for c in self.counts) else self.counts
        self.handed_out = True  # its body is the chunk's now: the sender closes it
        return Chunk(seq, file, self.lines, counts, body, size)

    def close(self) -> None:
        if self.spool is not None and not self.handed_out:
            self.spool.close()
