"""Secrets the instance made for itself and keeps in its database (shared by every process)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from roster.store.schema import instance_secrets as t


def get(conn: Connection, name: str) -> str | None:
    value = conn.execute(sa.select(t.c.value).where(t.c.name == name)).scalar()
    return None if value is None else str(value)


def insert_if_absent(conn: Connection, name: str, make: Callable[[], str], now_ms: int) -> str:
    """The secret ``name``, made and stored now if no process stored it first."""
    found = get(conn, name)
    if found is not None:
        return found
    value = make()
    conn.execute(sa.insert(t).values(name=name, value=value, created_at=now_ms))
    return value
