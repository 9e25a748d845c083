"""Workspaces table: create, find by key hash, rotate keys, change settings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from roster.domain.loyalty import Tier, amount_text
from roster.domain.workspaces import Limits, Workspace
from roster.store.schema import workspaces as t


def insert(conn: Connection, ws: Workspace, key_hash: str) -> None:
    conn.execute(sa.insert(t).values(**_columns(ws), key_hash=key_hash))


def save_settings(conn: Connection, ws: Workspace) -> None:
    conn.execute(sa.update(t).where(t.c.id == ws.id).values(**_columns(ws)))


def set_key(
    conn: Connection,
    workspace_id: str,
    key_hash: str,
    now_ms: int,
    *,
    rotated_at: int | None = None,
) -> bool:
    """Give the workspace a new key hash; with ``rotated_at``, only if its key is still the one
    rotated then (``False`` otherwise, as for no such workspace)."""
    query = sa.update(t).where(t.c.id == workspace_id)
    if rotated_at is not None:
        query = query.where(t.c.key_rotated_at == rotated_at)
    result = conn.execute(query.values(key_hash=key_hash, key_rotated_at=now_ms))
    return result.rowcount == 1


#: Built once (every request and every applied group reads its workspace).
_BY_ID = sa.select(t).where(t.c.id == sa.bindparam("workspace_id"))


def get(conn: Connection, workspace_id: str) -> Workspace | None:
    row = conn.execute(_BY_ID, {"workspace_id": workspace_id}).mappings().first()
    return _workspace(row) if row else None


#: The worker's read in its write transaction: on PostgreSQL ``FOR KEY SHARE``, which waits for
#: a settings change in progress (``lock_for_settings``) but never for an accept (SQLite has no
#: row locks: the clause is left out there, and its single writer serialises the two anyway).
_BY_ID_SHARED = _BY_ID.with_for_update(read=True, key_share=True)


def get_for_writing(conn: Connection, workspace_id: str) -> Workspace | None:
    """The workspace, as the worker writes a group: no settings change overlaps that write."""
    row = conn.execute(_BY_ID_SHARED, {"workspace_id": workspace_id}).mappings().first()
    return _workspace(row) if row else None


def lock_for_settings(conn: Connection, workspace_id: str) -> None:
    """Before changing settings (PostgreSQL ``FOR UPDATE``): waits for the group a worker is
    writing, and holds off the next one until the change commits (SQLite's single writer does
    the same by itself)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(t.c.id).where(t.c.id == workspace_id).with_for_update())


def get_with_hash(conn: Connection, workspace_id: str) -> tuple[Workspace, str] | None:
    row = conn.execute(_BY_ID, {"workspace_id": workspace_id}).mappings().first()
    return (_workspace(row), row["key_hash"]) if row else None


def list_all(conn: Connection) -> list[Workspace]:
    rows = conn.execute(sa.select(t).order_by(t.c.created_at, t.c.id)).mappings()
    return [_workspace(r) for r in rows]


def lock(conn: Connection, workspace_id: str) -> None:
    """Serialise acceptances of one workspace (PostgreSQL), so accept order is commit order.

    ``FOR NO KEY UPDATE`` does not conflict with the key-share locks that a worker's inserts of
    customers take on the same row (foreign keys), so accepting never waits for applying.
    """
    if conn.dialect.name == "postgresql":
        query = sa.select(t.c.id).where(t.c.id == workspace_id).with_for_update(key_share=True)
        conn.execute(query)


def _columns(ws: Workspace) -> dict[str, Any]:
    return {
        "id": ws.id,
        "name": ws.name,
        "created_at": ws.created_at,
        "key_rotated_at": ws.key_rotated_at,
        "identity_resolution": ws.identity_resolution,
        "identifiers": msgspec.json.encode(list(ws.identifiers)).decode(),
        "limits": msgspec.json.encode(ws.limits).decode(),
        "tiers": msgspec.json.encode(
            [{"name": t.name, "threshold": amount_text(t.threshold)} for t in ws.tiers]
        ).decode(),
    }


def _workspace(row: Any) -> Workspace:
    return Workspace(
        id=row["id"],
        name=row["name"],
        created_at=row["created_at"],
        key_rotated_at=row["key_rotated_at"],
        identity_resolution=bool(row["identity_resolution"]),
        identifiers=tuple(msgspec.json.decode(row["identifiers"])),
        limits=msgspec.json.decode(row["limits"], type=Limits),
        tiers=tuple(
            Tier(t["name"], Decimal(t["threshold"])) for t in msgspec.json.decode(row["tiers"])
        ),
    )
