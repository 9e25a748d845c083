"""Consecutive failed sign-ins per key (an email, a client address), in the database so every
API process slows the same guesses down."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from roster.store.schema import sign_in_throttle as t


def blocked_until(conn: Connection, keys: list[str]) -> int:
    """The latest time any of ``keys`` is blocked until (0: none is)."""
    query = sa.select(sa.func.max(t.c.blocked_until)).where(t.c.key.in_(keys))
    return int(conn.execute(query).scalar() or 0)


def count_failure(conn: Connection, key: str, now_ms: int, *, forgotten_before: int) -> int:
    """Add one failure to the key (its count starts again if the last one is older than
    ``forgotten_before``) and return the count: one statement, so processes never lose one."""
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(t)
    statement = (
        insert.values(key=key, failures=1, last_failure_at=now_ms, blocked_until=0)
        .on_conflict_do_update(
            index_elements=[t.c.key],
            set_={
                "failures": sa.case(
                    (t.c.last_failure_at < forgotten_before, 1), else_=t.c.failures + 1
                ),
                "last_failure_at": now_ms,
            },
        )
        .returning(t.c.failures)
    )
    return int(conn.execute(statement).scalar_one())


def block(conn: Connection, key: str, until: int) -> None:
    """No sign-in on the key is checked before ``until`` (later counts only block longer)."""
    conn.execute(
        sa.update(t).where(t.c.key == key, t.c.blocked_until < until).values(blocked_until=until)
    )


def clear(conn: Connection, key: str) -> None:
    conn.execute(sa.delete(t).where(t.c.key == key))
