"""Finding one customer for the read API."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from roster.store.schema import customer_identifiers as it
from roster.store.schema import customers as t


def customer_by_id(conn: Connection, workspace_id: str, customer_id: str) -> dict[str, Any] | None:
    query = sa.select(t).where(t.c.workspace_id == workspace_id, t.c.customer_id == customer_id)
    row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def customer_by_uid(conn: Connection, workspace_id: str, uid: int) -> dict[str, Any] | None:
    row = conn.execute(sa.select(t).where(t.c.workspace_id == workspace_id, t.c.uid == uid)).first()
    return dict(row._mapping) if row else None


def customer_by_identifier(
    conn: Connection, workspace_id: str, name: str, value: str
) -> dict[str, Any] | None:
    """The oldest customer holding this identifier value."""
    uid = conn.execute(
        sa.select(sa.func.min(it.c.uid)).where(
            it.c.workspace_id == workspace_id, it.c.name == name, it.c.value == value
        )
    ).scalar()
    return customer_by_uid(conn, workspace_id, int(uid)) if uid is not None else None
