"""Hot-path statements sent straight to the driver's cursor, inside the caller's transaction.

Table and column names given to these helpers are Roster's own constants, never client input.

SQLAlchemy Core costs several microseconds per result row (``Row`` objects, result processing)
and more per statement built; the worker loads hundreds of customers per batch, so those loads
skip it. Each statement is written once per dialect: ``?`` placeholders and an ``IN (?, …)``
list on SQLite; ``%s`` and a list as one JSON text on PostgreSQL, as ``id_lists.among`` (the
SQLAlchemy form, which explains why) sends it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from typing import Any

import msgspec
from sqlalchemy.engine import Connection

#: Rows one SQLite ``INSERT`` statement carries (fewer if the columns would pass the driver's
#: limit of parameters per statement).
SQLITE_ROWS_PER_INSERT = 64
#: Most values sent as separate parameters on SQLite (its limit is 32,766 per statement);
#: longer lists go as one JSON text through ``json_each``.
SQLITE_MAX_LISTED = 30_000


def probe_each(table: str, columns: str, key: str) -> str:
    """PostgreSQL: the rows of a workspace's ``table`` whose ``key`` is one of a JSON list of
    values, with one index probe per value (a semi-join of a long list is planned as a scan of
    the workspace's rows, whatever the statistics say). Parameters: the JSON text, then the
    workspace id."""
    return (
        "SELECT r.* FROM json_array_elements_text(%s::json) AS v(id) JOIN LATERAL"
        f" (SELECT {columns} FROM {table} WHERE workspace_id = %s AND {key} = v.id) AS r ON true"
    )


def placeholder(conn: Connection) -> str:
    return "%s" if conn.dialect.name == "postgresql" else "?"


def among(conn: Connection, column: str, values: Collection[Any]) -> tuple[str, list[Any]]:
    """``column`` (a text column) is one of ``values``: the SQL text and its parameters."""
    if conn.dialect.name == "postgresql":
        encoded = msgspec.json.encode(list(values)).decode()
        return f"{column} IN (SELECT json_array_elements_text(%s::json))", [encoded]
    if len(values) <= SQLITE_MAX_LISTED:
        return f"{column} IN ({', '.join('?' * len(values))})", list(values)
    encoded = msgspec.json.encode(list(values)).decode()
    return f"{column} IN (SELECT value FROM json_each(?))", [encoded]


@contextmanager
def _cursor(conn: Connection) -> Iterator[Any]:
    """A cursor of the driver connection under ``conn`` (inside its transaction)."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


def fetch_all(conn: Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run one query on the connection's driver cursor and return its rows as tuples."""
    with _cursor(conn) as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def execute(conn: Connection, sql: str, params: Sequence[Any]) -> None:
    """Run one statement on the connection's driver cursor."""
    with _cursor(conn) as cursor:
        cursor.execute(sql, params)


def streams_rows(conn: Connection) -> bool:
    """Whether ``row_stream`` sends each row as it comes (PostgreSQL's ``COPY``: the server
    stores the rows while the caller goes on deciding the next ones)."""
    return conn.dialect.name == "postgresql"


@contextmanager
def row_stream(
    conn: Connection, table: str, columns: Sequence[str]
) -> Iterator[Callable[[Sequence[Any]], None]]:
    """Append rows one at a time (in ``columns`` order), as ``insert_rows`` would: sent at once
    through ``COPY`` on PostgreSQL, inserted at the end on SQLite."""
    if conn.dialect.name == "postgresql":
        names = ", ".join(columns)
        with _cursor(conn) as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            yield copy.write_row
        return
    rows: list[Sequence[Any]] = []
    yield rows.append
    insert_rows(conn, table, columns, rows)


def insert_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Append rows (in ``columns`` order): ``COPY`` on PostgreSQL; on SQLite, ``executemany``
    of an ``INSERT`` of up to ``SQLITE_ROWS_PER_INSERT`` rows at a time (a third faster than
    one row per statement: fewer statement steps and resets); nothing is sent for no rows."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        with row_stream(conn, table, columns) as put:
            for row in rows:
                put(row)
        return
    names = ", ".join(columns)
    with _cursor(conn) as cursor:
        one = f"({', '.join('?' * len(columns))})"
        limit = cursor.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        per = max(1, min(SQLITE_ROWS_PER_INSERT, limit // len(columns)))
        whole = len(rows) - len(rows) % per
        if whole:
            several = f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * per)}"
            flat = (tuple(chain.from_iterable(rows[i : i + per])) for i in range(0, whole, per))
            cursor.executemany(several, flat)
        if whole < len(rows):
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES {one}", rows[whole:])
