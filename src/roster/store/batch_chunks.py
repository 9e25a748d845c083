"""Chunks of a large request body (a CSV import), written at accept and applied one per
transaction (``batches.done_chunks`` counts those applied)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from roster.store.schema import batch_chunks as t


class StoredChunk(NamedTuple):
    seq: int
    first_row: int
    rows: int
    data: bytes


_INSERT = sa.insert(t)


def insert(conn: Connection, batch_id: str, chunks: Iterable[StoredChunk]) -> int:
    """Store the chunks one at a time (each may be a megabyte); return how many."""
    count = 0
    for chunk in chunks:
        conn.execute(
            _INSERT,
            {
                "batch_id": batch_id,
                "seq": chunk.seq,
                "first_row": chunk.first_row,
                "rows": chunk.rows,
                "data": chunk.data,
            },
        )
        count += 1
    return count


def count(conn: Connection, batch_id: str) -> int:
    query = sa.select(sa.func.count()).select_from(t).where(t.c.batch_id == batch_id)
    return int(conn.execute(query).scalar_one())


def get(conn: Connection, batch_id: str, seq: int) -> StoredChunk:
    query = sa.select(t.c.seq, t.c.first_row, t.c.rows, t.c.data).where(
        t.c.batch_id == batch_id, t.c.seq == seq
    )
    row = conn.execute(query).one()
    return StoredChunk(row.seq, row.first_row, row.rows, bytes(row.data))


def delete(conn: Connection, batch_id: str) -> None:
    """Forget a finished batch's chunks (its counts, ledger and the file's SHA-256 stay)."""
    conn.execute(sa.delete(t).where(t.c.batch_id == batch_id))
