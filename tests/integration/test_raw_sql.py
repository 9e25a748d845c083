"""Bulk inserts (``store/raw_sql.insert_rows``): every row once, in order, at every count around
the rows one SQLite statement carries, on both stores."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from roster.bootstrap import Container
from roster.store import raw_sql

PER = raw_sql.SQLITE_ROWS_PER_INSERT


@pytest.mark.parametrize("count", [0, 1, PER - 1, PER, PER + 1, 2 * PER + 3, 1000])
def test_every_row_is_inserted_once_in_order(container: Container, count: int) -> None:
    rows = [(n, f"row {n}", None if n % 3 else "x\t\\y\n") for n in range(count)]
    with container.db.write() as conn:
        conn.execute(sa.text("CREATE TEMPORARY TABLE bulk (n INTEGER, s TEXT, t TEXT)"))
        raw_sql.insert_rows(conn, "bulk", ("n", "s", "t"), rows)
        with raw_sql.row_stream(conn, "bulk", ("n", "s", "t")) as put:
            put((count, "streamed", None))
        stored = conn.execute(sa.text("SELECT n, s, t FROM bulk")).all()
        conn.execute(sa.text("DROP TABLE bulk"))
    assert [tuple(r) for r in stored] == [*rows, (count, "streamed", None)]
