"""Suppressed identifiers (Customer.io's suppress and unsuppress), per workspace."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from roster.store.id_lists import among
from roster.store.schema import suppressions as t


def among_suppressed(conn: Connection, workspace_id: str, identifiers: Collection[str]) -> set[str]:
    """Those of ``identifiers`` that are suppressed."""
    if not identifiers:
        return set()
    query = sa.select(t.c.identifier).where(
        t.c.workspace_id == workspace_id, among(t.c.identifier, identifiers, conn.dialect.name)
    )
    return set(conn.execute(query).scalars())


def suppress(conn: Connection, workspace_id: str, identifier: str, at: int, batch_id: str) -> None:
    """Record the identifier as suppressed (again: its first suppression stays)."""
    if among_suppressed(conn, workspace_id, [identifier]):
        return
    row = {"workspace_id": workspace_id, "identifier": identifier, "at": at, "batch_id": batch_id}
    conn.execute(sa.insert(t), [row])


def unsuppress(conn: Connection, workspace_id: str, identifier: str) -> None:
    conn.execute(sa.delete(t).where(t.c.workspace_id == workspace_id, t.c.identifier == identifier))
