"""Customers and their identifier index, read and written a batch at a time."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, NamedTuple

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from roster.domain.profiles import Profile
from roster.store import raw_sql
from roster.store.id_lists import among
from roster.store.schema import customer_identifiers as it
from roster.store.schema import customers as t

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def load_by_customer_ids(
    conn: Connection, workspace_id: str, ids: Collection[str], *, with_attributes: bool = True
) -> list[Profile]:
    """The live customers among ``ids``; without attributes, ``partial`` profiles."""
    if not ids:
        return []
    # Without attributes, only the uid and the columns of the (workspace_id, customer_id)
    # index: on SQLite the uid is the rowid, which the index holds, so the lookup never visits
    # the table.
    columns = "uid, customer_id"
    if with_attributes:
        columns += ", attributes, attribute_times, created_at, attribute_batches"
    if conn.dialect.name == "postgresql":
        sql = raw_sql.probe_each("customers", columns, "customer_id")
        rows = raw_sql.fetch_all(conn, sql, [_encode(list(ids)).decode(), workspace_id])
    else:
        listed, params = raw_sql.among(conn, "customer_id", ids)
        rows = raw_sql.fetch_all(
            conn,
            f"SELECT {columns} FROM customers WHERE workspace_id = ? AND {listed}",
            [workspace_id, *params],
        )
    if with_attributes:
        return [
            Profile(int(uid), cid, _decode(a), _decode(times), created_at, _sources(sources))
            for uid, cid, a, times, created_at, sources in rows
        ]
    return [Profile(int(uid), cid, partial=True) for uid, cid in rows]


def load_by_uids(conn: Connection, workspace_id: str, uids: Collection[int]) -> list[Profile]:
    if not uids:
        return []
    query = _select().where(
        t.c.workspace_id == workspace_id,
        among(t.c.uid, uids, conn.dialect.name),
        t.c.merged_into.is_(None),
    )
    return [_profile(r) for r in conn.execute(query).all()]


def uids_by_identifiers(
    conn: Connection, workspace_id: str, pairs: Collection[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """The oldest live customer holding each ``(identifier name, value)``."""
    if not pairs:
        return {}
    values = list({value for _, value in pairs})
    query = (
        sa.select(it.c.name, it.c.value, sa.func.min(it.c.uid))
        .where(it.c.workspace_id == workspace_id, among(it.c.value, values, conn.dialect.name))
        .group_by(it.c.name, it.c.value)
    )
    wanted = set(pairs)
    return {(n, v): int(u) for n, v, u in conn.execute(query) if (n, v) in wanted}


def number(conn: Connection, new: list[Profile]) -> None:
    """Give each profile without a uid its own, drawn from the store (first, so their rows go
    in one bulk insert, ``insert_rows``: a multi-row ``INSERT … RETURNING`` of thousands of
    parameters is slow to build and send, and SQLAlchemy would send one per row on SQLite)."""
    unnumbered = [p for p in new if p.uid is None]
    if not unnumbered:
        return
    for profile, uid in zip(unnumbered, _next_uids(conn, len(unnumbered)), strict=True):
        profile.uid = uid


def new_rows(workspace_id: str, new: list[Profile], now: int) -> list[tuple[Any, ...]]:
    """The ``customers`` rows of new profiles (numbered already), in ``NEW_COLUMNS`` order:
    their values as they are now (a snapshot, encoded)."""
    return [
        (
            p.uid,
            workspace_id,
            p.customer_id,
            _encode(p.attributes).decode(),
            _encode(p.times).decode(),
            _encode(p.sources).decode(),
            p.created_at,
            now,
            p.created_batch,
            p.migrated_batch is not None,
            p.migrated_batch,
            p.metrics,
        )
        for p in new
    ]


def insert_rows(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert rows made by ``new_rows``."""
    raw_sql.insert_rows(conn, "customers", NEW_COLUMNS, rows)


#: The columns of ``new_rows``, in their order.
NEW_COLUMNS = (
    "uid",
    "workspace_id",
    "customer_id",
    "attributes",
    "attribute_times",
    "attribute_batches",
    "created_at",
    "updated_at",
    "created_batch",
    "migrated",
    "migrated_batch",
    "metrics",
)
_NEXT_UIDS_PG = (
    "SELECT nextval(pg_get_serial_sequence('customers', 'uid')) FROM generate_series(1, %s)"
)
#: SQLite: the uids after the highest ever given (the writer holds the only write lock).
_LAST_UID_SQLITE = sa.text(
    "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'customers'), 0),"
    " coalesce((SELECT max(uid) FROM customers), 0))"
)


def uid_pool(conn: Connection, count: int) -> Callable[[], int]:
    """``count`` new uids drawn now from the table's sequence (PostgreSQL), then given one at a
    time: a writer streaming rows that name new people draws them before it opens its stream.
    Those left ungiven are never given: uids may have gaps, they are never reused."""
    if conn.dialect.name != "postgresql":  # SQLite numbers after the highest uid stored
        raise ValueError("uids are drawn ahead only from PostgreSQL's sequence")
    drawn = iter(_next_uids(conn, count) if count else [])

    def next_uid() -> int:
        uid = next(drawn, None)
        if uid is None:
            raise RuntimeError(f"more new people than the {count} uids drawn for them")
        return uid

    return next_uid


def _next_uids(conn: Connection, count: int) -> list[int]:
    """``count`` new uids, never one given before: from the table's sequence on PostgreSQL;
    numbered after the highest ever given on SQLite."""
    if conn.dialect.name == "postgresql":  # the driver's cursor: thousands of rows
        return [int(u) for (u,) in raw_sql.fetch_all(conn, _NEXT_UIDS_PG, [count])]
    last = int(conn.execute(_LAST_UID_SQLITE).scalar_one())
    return list(range(last + 1, last + 1 + count))


_UPDATE_FROM_JSON = (
    "UPDATE customers AS c SET attributes = v.a, attribute_times = v.t,"
    " attribute_batches = v.b, updated_at = %s,"
    " live_since = CASE WHEN %s THEN coalesce(c.live_since, %s) ELSE c.live_since END"
    " FROM json_to_recordset(%s::json) AS v(uid bigint, a text, t text, b text)"
    " WHERE c.uid = v.uid"
)


def update_existing(conn: Connection, changed: list[Profile], now: int, *, live: bool) -> None:
    """Write changed attributes; ``live`` (any surface but the loyalty migration) also marks
    the customers as no longer migrated-only, from ``now`` on."""
    update_rows(conn, changed_rows(changed), now, live=live)


def changed_rows(changed: list[Profile]) -> list[tuple[int, str, str, str]]:
    """``(uid, attributes, times, sources)`` of changed profiles, encoded as they are now."""
    return [
        (
            p.uid,  # type: ignore[misc]
            _encode(p.attributes).decode(),
            _encode(p.times).decode(),
            _encode(p.sources).decode(),
        )
        for p in changed
    ]


def update_rows(
    conn: Connection, rows: list[tuple[int, str, str, str]], now: int, *, live: bool
) -> None:
    """Write rows made by ``changed_rows``."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":  # one statement, the rows as one JSON text
        listed = [{"uid": u, "a": a, "t": t, "b": b} for u, a, t, b in rows]
        raw_sql.execute(conn, _UPDATE_FROM_JSON, [now, live, now, _encode(listed).decode()])
        return
    query = (
        sa.update(t)
        .where(t.c.uid == sa.bindparam("b_uid"))
        .values(
            attributes=sa.bindparam("b_attributes"),
            attribute_times=sa.bindparam("b_times"),
            attribute_batches=sa.bindparam("b_sources"),
            updated_at=now,
            live_since=sa.func.coalesce(t.c.live_since, now) if live else t.c.live_since,
        )
    )
    conn.execute(
        query,
        [{"b_uid": u, "b_attributes": a, "b_times": tm, "b_sources": b} for u, a, tm, b in rows],
    )


_IDENTIFIER_COLUMNS = ("workspace_id", "name", "value", "uid")


def replace_identifiers(
    conn: Connection,
    workspace_id: str,
    by_uid: Mapping[int, Iterable[tuple[str, str]]],
    *,
    new: Collection[int] = (),
) -> None:
    """Make the identifier index of these customers exactly ``by_uid``; the ``new`` ones (just
    inserted) have no entries to delete."""
    if not by_uid:
        return
    stale = [uid for uid in by_uid if uid not in new]
    if stale:
        conn.execute(sa.delete(it).where(among(it.c.uid, stale, conn.dialect.name)))
    rows = [
        (workspace_id, name, value, uid) for uid, pairs in by_uid.items() for name, value in pairs
    ]
    raw_sql.insert_rows(conn, "customer_identifiers", _IDENTIFIER_COLUMNS, rows)


def rebuild_identifiers(
    conn: Connection, workspace_id: str, pairs_of: Callable[[dict[str, Any]], list[tuple[str, str]]]
) -> int:
    """Recompute the whole identifier index of a workspace (its identifier list changed)."""
    conn.execute(sa.delete(it).where(it.c.workspace_id == workspace_id))
    query = sa.select(t.c.uid, t.c.attributes).where(
        t.c.workspace_id == workspace_id, t.c.merged_into.is_(None)
    )
    rows: list[dict[str, Any]] = []
    indexed = 0
    for uid, attributes in conn.execute(query.execution_options(yield_per=5000)):
        rows += [
            {"workspace_id": workspace_id, "name": n, "value": v, "uid": uid}
            for n, v in pairs_of(_decode(attributes))
        ]
        if len(rows) >= 5000:
            conn.execute(sa.insert(it), rows)
            indexed, rows = indexed + len(rows), []
    if rows:
        conn.execute(sa.insert(it), rows)
    return indexed + len(rows)


def _select() -> sa.Select[Any]:
    return sa.select(
        t.c.uid,
        t.c.customer_id,
        t.c.attributes,
        t.c.attribute_times,
        t.c.created_at,
        t.c.attribute_batches,
    )


def _profile(row: Any) -> Profile:
    return Profile(
        uid=int(row.uid),
        customer_id=row.customer_id,
        attributes=_decode(row.attributes),
        times=_decode(row.attribute_times),
        created_at=row.created_at,
        sources=_sources(row.attribute_batches),
    )


def _sources(text: str | None) -> dict[str, str]:
    """A customer's ``attribute_batches`` (none for a customer last written before 0013)."""
    return {} if text is None else _decode(text)


class MigrationState(NamedTuple):
    """What the loyalty migration needs to know of an existing customer."""

    uid: int
    customer_id: str
    migrated: bool
    #: When another surface first changed it (``None``: it is still migrated-only).
    live_since: int | None
    events_migrated: bool
    #: The metrics sent with its migration (JSON text), until its events are migrated.
    metrics: str | None


_STATE_COLUMNS = "uid, customer_id, migrated, live_since, events_migrated, metrics"
_MIGRATION_STATES_PG = raw_sql.probe_each("customers", _STATE_COLUMNS, "customer_id")


def migration_states(
    conn: Connection, workspace_id: str, customer_ids: Collection[str]
) -> dict[str, MigrationState]:
    """The existing customers among ``customer_ids``, with their uids: ``customer_id -> state``."""
    if not customer_ids:
        return {}
    if conn.dialect.name == "postgresql":
        ids = _encode(list(customer_ids)).decode()
        rows = raw_sql.fetch_all(conn, _MIGRATION_STATES_PG, [ids, workspace_id])
    else:
        listed, params = raw_sql.among(conn, "customer_id", customer_ids)
        rows = raw_sql.fetch_all(  # the driver's cursor: thousands of rows per group
            conn,
            f"SELECT {_STATE_COLUMNS} FROM customers WHERE workspace_id = ? AND {listed}",
            [workspace_id, *params],
        )
    return {
        cid: MigrationState(int(uid), cid, bool(migrated), live, bool(events), metrics)
        for uid, cid, migrated, live, events, metrics in rows
    }


def mark_migrated(conn: Connection, rows: Collection[tuple[int, str, str | None]]) -> None:
    """``(uid, batch_id, metrics JSON or None)``: these customers come from a migration."""
    if not rows:
        return
    query = (
        sa.update(t)
        .where(t.c.uid == sa.bindparam("b_uid"))
        .values(
            migrated=True,
            migrated_batch=sa.bindparam("b_batch"),
            metrics=sa.bindparam("b_metrics"),
        )
    )
    conn.execute(query, [{"b_uid": u, "b_batch": b, "b_metrics": m} for u, b, m in rows])


def mark_events_migrated(conn: Connection, uids: Collection[int], now: int) -> None:
    """Their events came: metrics are computed from them from now on."""
    if uids:
        conn.execute(
            sa.update(t)
            .where(among(t.c.uid, uids, conn.dialect.name))
            .values(events_migrated=True, metrics=None, updated_at=now)
        )


def mark_live(conn: Connection, uids: Collection[int], now: int) -> None:
    """Another surface changed them (a live transaction): no longer migrated-only."""
    if uids:
        conn.execute(
            sa.update(t)
            .where(among(t.c.uid, uids, conn.dialect.name))
            .values(live_since=sa.func.coalesce(t.c.live_since, now), updated_at=now)
        )


#: One index probe per email, whatever the planner believes of the tables' sizes (a semi-join
#: of the id list would be planned as a hash join over the workspace's whole index).
_EMAIL_HOLDERS_PG = (
    "SELECT v.value, c.uid, c.customer_id FROM json_array_elements_text(%s::json) AS v(value)"
    " CROSS JOIN LATERAL (SELECT min(i.uid) AS uid FROM customer_identifiers AS i"
    " WHERE i.workspace_id = %s AND i.name = 'email' AND i.value = v.value) AS h"
    " JOIN customers AS c ON c.uid = h.uid"
)


def email_holders(
    conn: Connection, workspace_id: str, emails: Collection[str], *, indexed: bool
) -> dict[str, tuple[int, str | None]]:
    """The live customers holding each (normalised) email: ``email -> (uid, customer_id)``.

    With ``email`` among the workspace's identifiers the identifier index answers; otherwise
    every profile's ``email`` attribute is read (a scan, for that rare setting)."""
    if not emails:
        return {}
    if indexed and conn.dialect.name == "postgresql":
        rows = raw_sql.fetch_all(
            conn, _EMAIL_HOLDERS_PG, [_encode(list(emails)).decode(), workspace_id]
        )
        return {value: (int(uid), cid) for value, uid, cid in rows}
    if indexed:
        query = (
            sa.select(it.c.value, t.c.uid, t.c.customer_id)
            .join(t, t.c.uid == it.c.uid)
            .where(
                it.c.workspace_id == workspace_id,
                it.c.name == "email",
                among(it.c.value, emails, conn.dialect.name),
            )
            .order_by(t.c.uid.desc())
        )
        return {value: (int(uid), cid) for value, uid, cid in conn.execute(query)}
    wanted = set(emails)
    found: dict[str, tuple[int, str | None]] = {}
    query = sa.select(t.c.uid, t.c.customer_id, t.c.attributes).where(
        t.c.workspace_id == workspace_id, t.c.merged_into.is_(None)
    )
    for uid, cid, attributes in conn.execute(query.execution_options(yield_per=5000)):
        email = _decode(attributes).get("email")
        if isinstance(email, str) and (key := email.strip().lower()) in wanted:
            found.setdefault(key, (int(uid), cid))
    return found
