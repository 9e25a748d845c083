"""Hot-path statements sent straight to the driver's cursor, inside the caller's transaction.

Table and column names given to these helpers are Roster's own constants, never client input.

SQLAlchemy Core costs several microseconds per result row (``Row`` objects, result processing)
and more per statement built; the worker loads hundreds of customers per batch, so those loads
skip it. Each statement is written once per dialect: ``?`` placeholders and an ``IN (?, …)``
list on SQLite; ``%s`` and lists as one JSON text on PostgreSQL. A JSON text, not an array:
psycopg spends about 30 µs per string building an array literal (escaping every quote of a
JSON value), while encoding the list as JSON takes well under one; and PostgreSQL plans a
set-returning function over it with an index nested loop whatever the table statistics say.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import msgspec
from sqlalchemy.engine import Connection

#: Most values sent as separate parameters on SQLite (its limit is 32,766 per statement);
#: longer lists go as one JSON text through ``json_each``.
SQLITE_MAX_LISTED = 30_000


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


def fetch_all(conn: Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run one query on the connection's driver cursor and return its rows as tuples."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def execute(conn: Connection, sql: str, params: Sequence[Any]) -> None:
    """Run one statement on the connection's driver cursor."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.execute(sql, params)
    finally:
        cursor.close()


def insert_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Append rows (tuples in ``columns`` order): ``COPY`` on PostgreSQL, one ``executemany``
    on SQLite."""
    if not rows:
        return
    raw = conn.connection.dbapi_connection
    assert raw is not None
    names = ", ".join(columns)
    cursor = raw.cursor()
    try:
        if conn.dialect.name == "postgresql":
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
    finally:
        cursor.close()
