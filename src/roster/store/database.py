"""Engines for both stores, and the two kinds of transaction Roster uses.

``Database.write()`` is a transaction that may write: on SQLite it starts with
``BEGIN IMMEDIATE`` (so two writers never deadlock upgrading a read lock); on PostgreSQL it is
a plain READ COMMITTED transaction. ``Database.read()`` never takes SQLite's write lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from roster.store.write_turns import WriteTurns, turns_for


def normalise_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs (SQLAlchemy would pick psycopg2)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


class Database:
    """One store: a write engine and a read engine over the same database."""

    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 10):
        self.url = normalise_url(url)
        self.dialect = sa.make_url(self.url).get_backend_name()
        self.turns: WriteTurns | None = None
        if self.dialect == "sqlite":
            self.turns = turns_for(sa.make_url(self.url).database or "")
            self.writer = _sqlite_engine(self.url, sqlite_synchronous, immediate=True)
            self.reader = _sqlite_engine(self.url, sqlite_synchronous, immediate=False)
        elif self.dialect == "postgresql":
            # No server-side prepared statements: a generic plan made for an empty table (before
            # any ANALYZE) would keep scanning it sequentially as it grows.
            self.writer = sa.create_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
                connect_args={"prepare_threshold": None},
            )
            self.reader = self.writer
        else:
            raise ValueError(f"unsupported database URL {url!r}: use sqlite:// or postgresql://")

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that commits when the block ends and rolls back on an exception.

        On SQLite, the threads of this process take turns first (``write_turns``)."""
        if self.turns is None:
            with self.writer.begin() as conn:
                yield conn
            return
        with self.turns.turn(), self.writer.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (rolled back at the end)."""
        with self.reader.connect() as conn:
            yield conn

    def dispose(self) -> None:
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


def _sqlite_engine(url: str, synchronous: str, *, immediate: bool) -> Engine:
    engine = sa.create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
