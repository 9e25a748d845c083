"""What ``roster load`` can load: one row per KIND, naming the vendor request it sends.

A row says which endpoint takes the records, how the vendor authenticates, the file shape it
reads by default, how records are packed into one request body (within the most bytes and
records one request may hold), and how a ledger ``index`` of the request maps back to a record
(most kinds: one record, one element; a Masivo events or transactions record is one customer
with many entries; a CSV import numbers its rows from the header, row 1).

The limits are the vendors' published ones, replaced by what a Roster server states
(``GET /v1/workspace`` ``requests``) when the target is Roster.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from roster.loader.records import InputError, Shape

Auth = Literal["basic", "pipelines", "bearer"]

_decode = msgspec.json.decode
_encode = msgspec.json.encode


@dataclass(frozen=True, slots=True)
class Limits:
    """The most one request may hold: bytes of body, and records (``None``: no count)."""

    max_bytes: int
    max_records: int | None


@dataclass(frozen=True, slots=True)
class LoadKind:
    name: str
    #: The endpoint, ``{workspace}`` standing for the workspace id.
    path: str
    method: str
    auth: Auth
    shape: Shape
    content_type: str
    #: The vendor's published limits, and the key of ``requests`` a Roster server states.
    limits: Limits
    server_limits: str
    #: The body's bytes around the records, and between two of them.
    prefix: bytes = b""
    suffix: bytes = b""
    separator: bytes = b","
    #: The ledger index of a request's first record (a CSV import numbers rows from 1, its header).
    index_base: int = 0
    #: Ledger elements a record holds (``None``: one).
    elements: Callable[[bytes], int] | None = None
    #: A record as the request carries it (``None``: as read); ``header`` is a CSV file's.
    convert: Callable[[bytes, bytes], bytes] | None = None
    #: A file of this kind is sent with its header before the records (CSV imports).
    with_header: bool = False
    #: The most elements one request may hold in all (Masivo: 1,000 events or transactions).
    max_entries: int | None = None

    def size(self, record_bytes: int, count: int, header: bytes = b"") -> int:
        """The body's size holding ``count`` records of ``record_bytes`` bytes in all."""
        head = len(header) if self.with_header else 0
        separators = max(0, count - 1) * len(self.separator)
        return len(self.prefix) + head + record_bytes + separators + len(self.suffix)


def _entries(member: str) -> Callable[[bytes], int]:
    def count(raw: bytes) -> int:
        try:
            value = _decode(raw)
        except msgspec.DecodeError as exc:
            raise InputError(f"not JSON: {exc}") from None
        entries = value.get(member) if isinstance(value, dict) else None
        return len(entries) if isinstance(entries, list) else 0

    return count


def _merge_pair(raw: bytes, header: bytes) -> bytes:
    """A merge record as Merge Users carries it: from a CSV row under ``merged_user,
    retained_user``, or a JSON object as it is."""
    if not header:
        return raw
    names = next(csv.reader(io.StringIO(header.decode("utf-8-sig"))))
    (row,) = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    pair: dict[str, Any] = dict(zip(names, row, strict=False))
    missing = [n for n in ("merged_user", "retained_user") if not pair.get(n)]
    if missing or len(row) != len(names):
        raise InputError("a merge row needs merged_user and retained_user")
    return _encode({"merged_user": pair["merged_user"], "retained_user": pair["retained_user"]})


MASIVO = "/api/storefront/v1/customers/migrate"


def _masivo(name: str, path: str, member: str | None) -> LoadKind:
    """A Masivo migrate endpoint: a record is one customer entry; for events and
    transactions, one holding ``member``'s entries (1,000 at most in a request)."""
    return LoadKind(
        name,
        MASIVO + path,
        "POST",
        "bearer",
        "jsonl",
        "application/json",
        Limits(10_485_760, 1000),
        "masivo",
        prefix=b'{"customers":[',
        suffix=b"]}",
        elements=None if member is None else _entries(member),
        max_entries=None if member is None else 1000,
    )


KINDS: dict[str, LoadKind] = {
    kind.name: kind
    for kind in (
        LoadKind(
            "transition",
            "/v1/transition/{workspace}",
            "POST",
            "basic",
            "jsonl",
            "application/json",
            Limits(102_400, None),
            "moengage_transition",
            prefix=b'{"type":"transition","elements":[',
            suffix=b"]}",
        ),
        LoadKind(
            "customerio",
            "/v1/batch",
            "POST",
            "pipelines",
            "jsonl",
            "application/json",
            Limits(512_000, None),
            "customerio_batch",
            prefix=b'{"batch":[',
            suffix=b"]}",
        ),
        LoadKind(
            "people",
            "/v1/imports/people",
            "POST",
            "pipelines",
            "csv",
            "text/csv",
            Limits(104_857_600, None),
            "people_csv",
            separator=b"",
            index_base=2,
            with_header=True,
        ),
        _masivo("masivo-customers", "", None),
        _masivo("masivo-events", "/events", "events"),
        _masivo("masivo-transactions", "/transactions", "transactions"),
        LoadKind(
            "merges",
            "/v1/customer/merge?app_id={workspace}",
            "POST",
            "basic",
            "jsonl",
            "application/json",
            Limits(131_072, 50),
            "moengage_merge",
            prefix=b'{"merge_data":[',
            suffix=b"]}",
            convert=_merge_pair,
        ),
    )
}

#: ``--option`` names a people import takes (as its query parameters).
PEOPLE_OPTIONS = ("create", "match_by", "empty", "infer_types")


def server_limits(kind: LoadKind, stated: dict[str, Any] | None) -> Limits:
    """The limits a Roster server states for the kind (``GET /v1/workspace``), else the
    vendor's; a record count never above the vendor's."""
    found = (stated or {}).get(kind.server_limits)
    if not isinstance(found, dict) or not isinstance(found.get("max_bytes"), int):
        return kind.limits
    count = found.get("max_customers", found.get("max_pairs"))
    return Limits(found["max_bytes"], count if isinstance(count, int) else kind.limits.max_records)
