"""Fresh planner statistics for the tables an import grows (PostgreSQL).

A migration fills empty tables fast: a million customers can arrive within autovacuum's first
minute, while the planner still believes the table holds the few dozen rows it counted last.
It then picks plans made for tiny tables (a sequential scan filtering every row against the
whole id array of a batch) whose cost grows with the table. Workers therefore re-``ANALYZE`` a
table as soon as more than half of it (and at least 1,000 rows) changed since it was last
analysed, instead of waiting for autovacuum: in a thread of their own, never on the path that
applies batches (an ``ANALYZE`` of a large table takes a good part of a second).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

#: The tables the worker's hot queries look up by key.
TABLES = (
    "customers",
    "customer_identifiers",
    "devices",
    "events",  # by client event id (a migrated purchase_id)
    "wallets",
    "wallet_transactions",
)
MIN_CHANGED_ROWS = 1_000

_STALE = sa.text(
    "SELECT s.relname FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid"
    " WHERE s.schemaname = current_schema() AND s.relname = ANY(:tables)"
    " AND s.n_mod_since_analyze > greatest(:least, 0.5 * greatest(c.reltuples, 0))"
)


def stale_tables(conn: Connection) -> list[str]:
    """The tables whose statistics are far behind their contents (always none on SQLite)."""
    if conn.dialect.name != "postgresql":
        return []
    rows = conn.execute(_STALE, {"tables": list(TABLES), "least": MIN_CHANGED_ROWS})
    return sorted(name for (name,) in rows)


#: The advisory locks (transaction-level) that give one session at a time each table's turn.
_LOCK_BASE = 0x526F7374_0000


def analyze_if_stale(conn: Connection, table: str) -> bool:
    """Recompute one table's statistics if they are still stale and no other session is at it
    (a transaction-level advisory lock per table, so several workers never analyse one table
    twice over); give up at once if another session holds the table's lock. ``True`` if it was
    analysed."""
    if table not in TABLES:  # the name goes into the statement's text
        raise ValueError(f"not a table Roster analyses: {table!r}")
    key = _LOCK_BASE + TABLES.index(table)
    turn = conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key})
    if not turn.scalar_one() or table not in stale_tables(conn):
        return False
    conn.exec_driver_sql("SET LOCAL lock_timeout = '100ms'")
    conn.exec_driver_sql(f"ANALYZE {table}")
    return True
