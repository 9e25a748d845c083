"""The anchors: the raw insert limit of the same event rows, and the msgspec decode ceiling.

``L_SQLITE`` is stdlib ``sqlite3`` ``executemany`` and ``L_PG`` is psycopg ``COPY FROM STDIN``,
each into Roster's own events table (created by Roster's migrations, so with its indexes) in a
fresh database, one transaction per 1,000 rows.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
import psycopg

from bench import pg
from bench.config import ANCHOR_COMMIT_ROWS
from roster.store import migrations
from roster.store.database import Database
from roster.store.events import COLUMNS

SQLITE_PRAGMAS = {"journal_mode": "WAL", "synchronous": "NORMAL"}
_INSERT = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
_COPY = f"COPY events ({', '.join(COLUMNS)}) FROM STDIN"

Row = tuple[Any, ...]


def _chunks(rows: Sequence[Row], size: int = ANCHOR_COMMIT_ROWS) -> Iterator[Sequence[Row]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _migrate(url: str) -> None:
    db = Database(url)
    try:
        migrations.upgrade(db)
    finally:
        db.dispose()


def _result(rows: int, seconds: float) -> dict[str, Any]:
    return {"rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds, 1)}


def sqlite_insert(rows: Sequence[Row], workdir: Path) -> dict[str, Any]:
    """L_SQLITE: rows/s of ``executemany`` into a freshly migrated SQLite file."""
    path = workdir / f"anchor-{time.monotonic_ns()}.db"
    _migrate(f"sqlite:///{path}")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for name, value in SQLITE_PRAGMAS.items():
            conn.execute(f"PRAGMA {name}={value}")
        started = time.perf_counter()
        for chunk in _chunks(rows):
            conn.execute("BEGIN")
            conn.executemany(_INSERT, chunk)
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        stored = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    finally:
        conn.close()
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    if stored != len(rows):
        raise AssertionError(f"L_SQLITE stored {stored} rows of {len(rows)}")
    return _result(len(rows), elapsed)


def pg_copy(rows: Sequence[Row], admin_url: str) -> dict[str, Any]:
    """L_PG: rows/s of ``COPY ... FROM STDIN`` into a freshly created and migrated database."""
    with pg.fresh_database(admin_url, prefix="roster_anchor") as url:
        _migrate(url)
        pg.checkpoint(url)
        with psycopg.connect(url) as conn:
            started = time.perf_counter()
            for chunk in _chunks(rows):
                with conn.cursor() as cur, cur.copy(_COPY) as copy:
                    for row in chunk:
                        copy.write_row(row)
                conn.commit()
            elapsed = time.perf_counter() - started
            stored = conn.execute("SELECT COUNT(*) FROM events").fetchone()
    if stored is None or stored[0] != len(rows):
        raise AssertionError(f"L_PG stored {stored} rows of {len(rows)}")
    return _result(len(rows), elapsed)


class _Action(msgspec.Struct):
    action: str
    attributes: dict[str, Any] | None = None
    platform: str | None = None
    app_version: str | None = None
    current_time: str | None = None
    user_timezone_offset: int | None = None


class _Customer(msgspec.Struct, tag="customer", tag_field="type"):
    customer_id: str
    attributes: dict[str, Any]


class _Device(msgspec.Struct, tag="device", tag_field="type"):
    customer_id: str
    device_id: str
    attributes: dict[str, Any]


class _Event(msgspec.Struct, tag="event", tag_field="type"):
    customer_id: str
    actions: list[_Action]


class _Body(msgspec.Struct):
    type: str
    elements: list[_Customer | _Device | _Event]


def decode(bodies: Sequence[bytes]) -> dict[str, Any]:
    """D: elements/s of a typed msgspec decode of the same bodies (the validation ceiling)."""
    decoder = msgspec.json.Decoder(_Body)
    started = time.perf_counter()
    elements = sum(len(decoder.decode(body).elements) for body in bodies)
    elapsed = time.perf_counter() - started
    return {
        "elements": elements,
        "seconds": round(elapsed, 3),
        "elements_per_s": round(elements / elapsed, 1),
    }
