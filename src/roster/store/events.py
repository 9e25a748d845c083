"""Events: appended in bulk (``executemany`` on SQLite, ``COPY`` on PostgreSQL) and read back."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from roster.store import raw_sql
from roster.store.id_lists import among
from roster.store.schema import events as t

#: Column order of the tuples ``insert_many`` takes.
COLUMNS = (
    "workspace_id",
    "uid",
    "origin_uid",
    "name",
    "occurred_at",
    "local_time",
    "tz_offset",
    "platform",
    "app_version",
    "device_id",
    "attributes",
    "received_at",
    "batch_id",
    "can_trigger",
    "migrated",
    "source_id",
    "value",
)


def insert_many(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Append event rows (tuples in ``COLUMNS`` order) inside the connection's transaction."""
    raw_sql.insert_rows(conn, "events", COLUMNS, rows)


def streamed(conn: Connection) -> AbstractContextManager[Callable[[Sequence[Any]], None]]:
    """Append event rows one at a time (``raw_sql.row_stream``)."""
    return raw_sql.row_stream(conn, "events", COLUMNS)


#: One probe of ``ix_events_source_id`` per id, whatever the planner believes of the table's
#: size (a semi-join of the id list is planned as a scan of the workspace's events).
_HOLDERS_PG = (
    "SELECT e.source_id, e.uid, e.batch_id FROM json_array_elements_text(%s::json) AS v(id)"
    " JOIN LATERAL (SELECT source_id, uid, batch_id FROM events WHERE workspace_id = %s"
    " AND source_id = v.id AND source_id IS NOT NULL) AS e ON true"
)


def holders_of_source_ids(
    conn: Connection, workspace_id: str, source_ids: Collection[str]
) -> dict[str, tuple[int, str]]:
    """The stored events among these client-given ids: ``source_id -> (uid, batch_id)``."""
    if not source_ids:
        return {}
    if conn.dialect.name == "postgresql":
        ids = msgspec.json.encode(list(source_ids)).decode()
        found = raw_sql.fetch_all(conn, _HOLDERS_PG, [ids, workspace_id])
        return {sid: (int(uid), batch) for sid, uid, batch in found}
    query = sa.select(t.c.source_id, t.c.uid, t.c.batch_id).where(
        t.c.workspace_id == workspace_id, among(t.c.source_id, source_ids, conn.dialect.name)
    )
    return {sid: (int(uid), batch) for sid, uid, batch in conn.execute(query)}


def purchases_of(
    conn: Connection, uid: int, names: Collection[str]
) -> list[tuple[int, str | None]]:
    """``(occurred_at, value)`` of a customer's purchase events (events named in ``names``)."""
    query = sa.select(t.c.occurred_at, t.c.value).where(t.c.uid == uid, t.c.name.in_(names))
    return [(at, value) for at, value in conn.execute(query)]


def of_customer(
    conn: Connection, uid: int, *, since: int | None, until: int | None, limit: int
) -> list[dict[str, Any]]:
    """A customer's events, newest first."""
    query = sa.select(t).where(t.c.uid == uid)
    if since is not None:
        query = query.where(t.c.occurred_at >= since)
    if until is not None:
        query = query.where(t.c.occurred_at < until)
    rows = conn.execute(query.order_by(t.c.occurred_at.desc(), t.c.id.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]
