"""The anchors: the raw insert limit of the same event rows, and the msgspec decode ceiling.

``L_SQLITE`` is stdlib ``sqlite3`` ``executemany`` and ``L_PG`` is psycopg ``COPY FROM STDIN``,
each into Roster's own events table (created by Roster's migrations, so with its indexes) in a
fresh database, one transaction per 1,000 rows.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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
WORKSPACE_COLUMNS = (
    "id",
    "name",
    "key_hash",
    "key_rotated_at",
    "created_at",
    "identity_resolution",
    "identifiers",
    "limits",
    "tiers",
)

Row = tuple[Any, ...]


def workspace_row(workspace_id: str) -> Row:
    """A ``workspaces`` row (``WORKSPACE_COLUMNS``) for the anchor's rows to belong to."""
    return (workspace_id, "bench", "x" * 64, 0, 0, False, "[]", "{}", "[]")


@dataclass(frozen=True, slots=True)
class Table:
    """Rows for one of Roster's tables, in ``columns`` order."""

    name: str
    columns: Sequence[str]
    rows: Sequence[Row]

    def insert_sql(self) -> str:
        marks = ", ".join("?" * len(self.columns))
        return f"INSERT INTO {self.name} ({', '.join(self.columns)}) VALUES ({marks})"

    def copy_sql(self) -> str:
        return f"COPY {self.name} ({', '.join(self.columns)}) FROM STDIN"


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
    """L_SQLITE: rows/s of ``executemany`` of the event rows into a freshly migrated file."""
    return sqlite_insert_tables([Table("events", COLUMNS, rows)], workdir)


def sqlite_insert_tables(tables: Sequence[Table], workdir: Path) -> dict[str, Any]:
    """Rows/s of ``executemany`` of every table's rows (in order) into a freshly migrated
    SQLite file, one commit per 1,000 rows."""
    path = workdir / f"anchor-{time.monotonic_ns()}.db"
    _migrate(f"sqlite:///{path}")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for name, value in SQLITE_PRAGMAS.items():
            conn.execute(f"PRAGMA {name}={value}")
        started = time.perf_counter()
        for table in tables:
            sql = table.insert_sql()
            for chunk in _chunks(table.rows):
                conn.execute("BEGIN")
                conn.executemany(sql, chunk)
                conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        stored = {
            t.name: conn.execute(f"SELECT COUNT(*) FROM {t.name}").fetchone()[0] for t in tables
        }
    finally:
        conn.close()
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    return _checked(tables, stored, elapsed)


def pg_copy(rows: Sequence[Row], admin_url: str) -> dict[str, Any]:
    """L_PG: rows/s of ``COPY ... FROM STDIN`` of the event rows into a fresh database."""
    return pg_copy_tables([Table("events", COLUMNS, rows)], admin_url)


def pg_copy_tables(
    tables: Sequence[Table], admin_url: str, *, workspace: Row | None = None
) -> dict[str, Any]:
    """Rows/s of ``COPY ... FROM STDIN`` of every table's rows (in order) into a freshly created
    and migrated database, one commit per 1,000 rows; ``workspace`` (a row of ``workspaces``,
    inserted untimed first) is the parent their foreign keys need."""
    with pg.fresh_database(admin_url, prefix="roster_anchor") as url:
        _migrate(url)
        with psycopg.connect(url) as conn:
            if workspace is not None:
                marks = ", ".join(["%s"] * len(WORKSPACE_COLUMNS))
                conn.execute(
                    f"INSERT INTO workspaces ({', '.join(WORKSPACE_COLUMNS)}) VALUES ({marks})",
                    workspace,
                )
                conn.commit()
        pg.checkpoint(url)
        with psycopg.connect(url) as conn:
            started = time.perf_counter()
            for table in tables:
                for chunk in _chunks(table.rows):
                    with conn.cursor() as cur, cur.copy(table.copy_sql()) as copy:
                        for row in chunk:
                            copy.write_row(row)
                    conn.commit()
            elapsed = time.perf_counter() - started
            stored = {}
            for t in tables:
                found = conn.execute(f"SELECT COUNT(*) FROM {t.name}").fetchone()
                stored[t.name] = found[0] if found else 0
    return _checked(tables, stored, elapsed)


def _checked(tables: Sequence[Table], stored: dict[str, int], elapsed: float) -> dict[str, Any]:
    for t in tables:
        if stored[t.name] != len(t.rows):
            raise AssertionError(f"anchor stored {stored[t.name]} {t.name} rows of {len(t.rows)}")
    result = _result(sum(len(t.rows) for t in tables), elapsed)
    if len(tables) > 1:
        result["rows_by_table"] = {t.name: len(t.rows) for t in tables}
    return result


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
