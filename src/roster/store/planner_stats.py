"""Fresh planner statistics for the tables an import grows (PostgreSQL).

A migration fills empty tables fast: a million customers can arrive within autovacuum's first
minute, while the planner still believes the table holds the few dozen rows it counted last.
It then picks plans made for tiny tables (a sequential scan filtering every row against the
whole id array of a batch) whose cost grows with the table. Workers therefore re-``ANALYZE`` a
table as soon as more than half of it (and at least 1,000 rows) changed since it was last
analysed, instead of waiting for autovacuum.
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


def analyze(conn: Connection, table: str) -> None:
    """Recompute one table's statistics; give up at once if another session is at it."""
    if table not in TABLES:  # the name goes into the statement's text
        raise ValueError(f"not a table Roster analyses: {table!r}")
    conn.exec_driver_sql("SET LOCAL lock_timeout = '100ms'")
    conn.exec_driver_sql(f"ANALYZE {table}")
