"""Rows a planner decides in memory and its plan writes in the write transaction.

Where the store takes rows one at a time as they come (PostgreSQL's ``COPY``), the rows are
decided in the write transaction, each sent as soon as it is decided, so the server stores rows
while the next ones are decided. Elsewhere (SQLite) they are decided before it, so the write
lock is held for the writes alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from roster.store import raw_sql

#: Takes one decided row.
Emit = Callable[[tuple[Any, ...]], None]


@dataclass(slots=True)
class DecidedRows:
    decide: Callable[[Emit], None]
    #: The rows decided before the write transaction; ``None``: decided while written.
    rows: list[tuple[Any, ...]] | None

    @classmethod
    def plan(cls, conn: Connection, decide: Callable[[Emit], None]) -> DecidedRows:
        """Decide now (on ``conn``'s store unless it streams rows), or when written."""
        if raw_sql.streams_rows(conn):
            return cls(decide, None)
        rows: list[tuple[Any, ...]] = []
        decide(rows.append)
        return cls(decide, rows)

    def write(self, stream: AbstractContextManager[Callable[[Sequence[Any]], None]]) -> None:
        """Send the rows to ``stream`` (a store's ``row_stream``), deciding them if not yet."""
        with stream as emit:
            if self.rows is None:
                self.decide(emit)
            else:
                for row in self.rows:
                    emit(row)
