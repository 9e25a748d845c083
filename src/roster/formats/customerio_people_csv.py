"""Customer.io's CSV people import: options, header rules, and the file cut into
chunks of whole records.

At the door, ``split`` reads the uploaded file once, as a stream of lines: it checks the header
(at most 100 columns, names case-sensitive and unique, an ``id`` or ``email`` column to match
by), checks that every record is well-formed CSV in UTF-8, counts the rows, and returns where
each chunk of whole records lies in the file. Nothing here holds more than one line at a time.

In the worker, ``rows_of`` reads one chunk back into its rows. What a row says (an empty id, a
wrong number of fields) is judged there, into the ledger, by row number: the header is row 1,
the first person row 2, as a spreadsheet shows them (a record whose quoted value holds a line
break is still one row).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import msgspec

from roster.domain.attributes import DIRECTIVES, FORBIDDEN_NAMES, MAX_NAME_LENGTH, SYSTEM_NAMES
from roster.domain.element_rules import excerpt
from roster.domain.errors import InvalidEnvelope, InvalidParameter

MAX_COLUMNS = 100
#: A chunk closes at the first record boundary after this many bytes or rows.
CHUNK_BYTES = 1_048_576
CHUNK_ROWS = 10_000
#: No line of a people file comes near this (100 columns of 512 characters is 51 KB); a file
#: without line breaks is refused before it is read into memory.
MAX_LINE_BYTES = 1_048_576
#: Header cells that say how a row is matched, and the directive a column may carry.
ID = "id"
EMAIL = "email"
TIMESTAMP = "_timestamp"
_BOM = b"\xef\xbb\xbf"
_TRUE = frozenset({"true", "TRUE", "True"})
_FALSE = frozenset({"false", "FALSE", "False"})
#: Integers and decimals ``infer_types`` turns into numbers: no leading zeros (a zip code
#: ``01234`` stays text), no exponent, at most 15 significant digits (exact as a double).
_INTEGER = re.compile(r"-?(?:0|[1-9]\d{0,14})")
_DECIMAL = re.compile(r"-?(?:0|[1-9]\d*)\.\d+")


@dataclass(frozen=True, slots=True)
class Options:
    """How an import applies its rows (query parameters, Customer.io's upload choices)."""

    #: Add people who do not exist yet (``false``: update existing people only).
    create: bool = True
    #: Find people by the ``id`` column or by the ``email`` column.
    match_by: str = ID
    #: An empty cell leaves the attribute as it is (``ignore``) or sets it to null (``nullify``).
    empty: str = "ignore"
    #: Turn ``true``/``false`` and plain numbers into booleans and numbers (default: all text).
    infer_types: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "create": self.create,
            "match_by": self.match_by,
            "empty": self.empty,
            "infer_types": self.infer_types,
        }


def options_from(params: dict[str, str]) -> Options:
    """Read the options from query parameters, refusing unknown values by name."""
    return Options(
        create=_flag(params, "create", default=True),
        match_by=_choice(params, "match_by", (ID, EMAIL)),
        empty=_choice(params, "empty", ("ignore", "nullify")),
        infer_types=_flag(params, "infer_types", default=False),
    )


def _flag(params: dict[str, str], name: str, *, default: bool) -> bool:
    value = params.get(name)
    if value is None:
        return default
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise InvalidParameter(f"'{name}' must be true or false, got {value[:40]!r}", field=name)


def _choice(params: dict[str, str], name: str, allowed: tuple[str, str]) -> str:
    value = params.get(name, allowed[0])
    if value not in allowed:
        msg = f"'{name}' must be {' or '.join(allowed)}, got {value[:40]!r}"
        raise InvalidParameter(msg, field=name)
    return value


@dataclass(frozen=True, slots=True)
class Chunk:
    """Whole records of the file: bytes ``offset`` to ``offset + length``, the first of them
    row ``first_row``; ``records`` counts blank lines too, ``rows`` only the people rows."""

    offset: int
    length: int
    first_row: int
    records: int
    rows: int


@dataclass(frozen=True, slots=True)
class Split:
    """What the door learnt of a valid file."""

    header: list[str]
    rows: int
    chunks: list[Chunk]


def split(file: IO[bytes], options: Options) -> Split:
    """Check a CSV file and cut it into chunks of whole records; ``InvalidEnvelope`` names the
    row and the rule when the file is not well-formed."""
    lines = _Lines(file)
    reader = csv.reader(lines, strict=True)
    header = _read(reader, lines, 1)
    if header is None:
        raise InvalidEnvelope("the file is empty: a header row is required", field="file")
    check_header(header, options)
    chunks: list[Chunk] = []
    start, first_row, records, rows, total = lines.consumed, 2, 0, 0, 0
    while (record := _read(reader, lines, first_row + records)) is not None:
        records += 1
        if is_blank(record):
            continue  # no row (its number still counts, as in a spreadsheet)
        rows += 1
        if lines.consumed - start >= CHUNK_BYTES or rows >= CHUNK_ROWS:
            chunks.append(Chunk(start, lines.consumed - start, first_row, records, rows))
            start, first_row, total = lines.consumed, first_row + records, total + rows
            records = rows = 0
    if rows:
        chunks.append(Chunk(start, lines.consumed - start, first_row, records, rows))
        total += rows
    if total == 0:
        raise InvalidEnvelope("the file has a header but no rows", field="file")
    return Split(header, total, chunks)


def is_blank(record: list[str]) -> bool:
    """A blank line: no person row."""
    return not record or record == [""]


def _read(reader: Any, lines: _Lines, row: int) -> list[str] | None:
    try:
        return next(reader)  # type: ignore[no-any-return]
    except StopIteration:
        return None
    except csv.Error as exc:
        hint = ""
        if "new-line character" in str(exc):
            hint = " (lines must end with LF or CRLF; this file seems to use a bare CR)"
        msg = f"row {row} (line {reader.line_num}) is not valid CSV: {exc}{hint}"
        raise InvalidEnvelope(msg, field="file", index=row) from None
    except UnicodeDecodeError:
        msg = f"the file is not UTF-8 (row {row}, byte {lines.consumed + 1} or soon after)"
        raise InvalidEnvelope(msg, field="file", index=row) from None


class _Lines:
    """The file's lines as text, counting the bytes handed out (a leading BOM skipped)."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.consumed = 0
        if file.read(3) == _BOM:
            self.consumed = 3
        else:
            file.seek(0)

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.file.readline(MAX_LINE_BYTES + 1)
        if not line:
            raise StopIteration
        if len(line) > MAX_LINE_BYTES:
            msg = f"a line of the file is longer than {MAX_LINE_BYTES:,} bytes"
            raise InvalidEnvelope(msg, field="file")
        self.consumed += len(line)
        return line.decode("utf-8")


def check_header(header: list[str], options: Options) -> None:
    """At most 100 unique, well-named columns, one of them the one rows are matched by."""
    if len(header) > MAX_COLUMNS:
        msg = f"the file has {len(header)} columns; at most {MAX_COLUMNS} are accepted"
        raise InvalidEnvelope(msg, field="header")
    seen: dict[str, int] = {}
    for n, name in enumerate(header, start=1):
        if name in seen:
            msg = (
                f"column {n} is named {excerpt(name)} like column {seen[name]}: column names "
                "must be unique (they are case-sensitive: 'id' and 'Id' are two names)"
            )
            raise InvalidEnvelope(msg, field=f"header[{n}]")
        seen[name] = n
        problem = _name_problem(name)
        if problem:
            raise InvalidEnvelope(f"column {n} ({excerpt(name)}): {problem}", field=f"header[{n}]")
    if options.match_by not in seen:
        other = EMAIL if options.match_by == ID else ID
        hint = f" (or match_by={other})" if other in seen else ""
        msg = f"a column named {options.match_by!r} is required to match people by it{hint}"
        raise InvalidEnvelope(msg, field="header")


def _name_problem(name: str) -> str | None:
    if name == ID:
        return None
    if name in DIRECTIVES:
        return None if name == TIMESTAMP else f"'{name}' is not a column an import takes"
    if name in FORBIDDEN_NAMES or len(name) > MAX_NAME_LENGTH:
        return f"attribute names must be 1-{MAX_NAME_LENGTH} characters and not '_id'"
    if name.startswith("_"):
        return "names beginning with '_' are reserved (only '_timestamp' orders updates)"
    if name in SYSTEM_NAMES:
        return f"'{name}' is owned by Roster"
    if "\x00" in name:
        return "a NUL character is not allowed"
    return None


def records_of(data: bytes) -> list[list[str]]:
    """The records of one chunk (whole records, as cut by ``split``), blank lines included."""
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), strict=True))


def typed(value: str) -> Any:
    """``infer_types``: booleans and plain numbers from their text; anything else stays text."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if _INTEGER.fullmatch(value):
        return int(value)
    if _DECIMAL.fullmatch(value) and len(value.lstrip("-").replace(".", "").lstrip("0")) <= 15:
        return float(value)
    return value


class ImportMeta(msgspec.Struct):
    """The stored batch of an import (its rows are in its chunks)."""

    header: list[str]
    options: dict[str, Any]
    rows: int
    chunks: int
    #: SHA-256 of the file as uploaded.
    sha256: str

    @property
    def parsed_options(self) -> Options:
        return Options(**self.options)


def stored_import(found: Split, options: Options, sha256: str) -> bytes:
    meta = ImportMeta(found.header, options.as_json(), found.rows, len(found.chunks), sha256)
    return msgspec.json.encode(meta)


def meta_of(payload: bytes) -> ImportMeta:
    return msgspec.json.decode(payload, type=ImportMeta)
