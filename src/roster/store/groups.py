"""Data Pipelines groups: their traits (with source times) and their members."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, NamedTuple

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from roster.store.id_lists import among
from roster.store.schema import group_members as mt
from roster.store.schema import groups as t

_encode = msgspec.json.Encoder().encode


class Group(NamedTuple):
    group_id: str
    traits: dict[str, Any]
    times: dict[str, int]
    #: Stored before this batch (an update, not an insert).
    exists: bool


def load(conn: Connection, workspace_id: str, group_ids: Collection[str]) -> dict[str, Group]:
    if not group_ids:
        return {}
    query = sa.select(t.c.group_id, t.c.traits, t.c.trait_times).where(
        t.c.workspace_id == workspace_id, among(t.c.group_id, group_ids, conn.dialect.name)
    )
    return {
        gid: Group(gid, msgspec.json.decode(traits), msgspec.json.decode(times), True)
        for gid, traits, times in conn.execute(query)
    }


def save(conn: Connection, workspace_id: str, changed: Iterable[Group], now: int) -> None:
    """Insert new groups and update the traits of existing ones."""
    for group in changed:
        values = {
            "traits": _encode(group.traits).decode(),
            "trait_times": _encode(group.times).decode(),
        }
        if group.exists:
            where = sa.and_(t.c.workspace_id == workspace_id, t.c.group_id == group.group_id)
            conn.execute(sa.update(t).where(where).values(**values, updated_at=now))
        else:
            row = {"workspace_id": workspace_id, "group_id": group.group_id, **values}
            conn.execute(sa.insert(t), [{**row, "created_at": now, "updated_at": now}])


def add_members(
    conn: Connection, workspace_id: str, members: Iterable[tuple[str, int]], now: int
) -> None:
    """Make each ``(group id, uid)`` a membership; one that exists stays as it was."""
    for group_id, uid in members:
        where = sa.and_(
            mt.c.workspace_id == workspace_id, mt.c.group_id == group_id, mt.c.uid == uid
        )
        if conn.execute(sa.select(sa.func.count()).where(where)).scalar_one():
            continue
        row = {"workspace_id": workspace_id, "group_id": group_id, "uid": uid, "joined_at": now}
        conn.execute(sa.insert(mt), [row])


def move_members(conn: Connection, from_uid: int, to_uid: int) -> None:
    """A merged customer's memberships become the retained one's (once each)."""
    rows = conn.execute(sa.select(mt).where(mt.c.uid == from_uid)).mappings().all()
    conn.execute(sa.delete(mt).where(mt.c.uid == from_uid))
    for r in rows:
        add_members(conn, r["workspace_id"], [(r["group_id"], to_uid)], r["joined_at"])


def of_customer(conn: Connection, workspace_id: str, uid: int) -> list[str]:
    query = (
        sa.select(mt.c.group_id)
        .where(mt.c.workspace_id == workspace_id, mt.c.uid == uid)
        .order_by(mt.c.group_id)
    )
    return list(conn.execute(query).scalars())


def view(conn: Connection, workspace_id: str, group_id: str) -> dict[str, Any] | None:
    """A group with its traits, their times and its member count; ``None`` if unknown."""
    row = (
        conn.execute(sa.select(t).where(t.c.workspace_id == workspace_id, t.c.group_id == group_id))
        .mappings()
        .first()
    )
    if row is None:
        return None
    count = sa.select(sa.func.count()).where(
        mt.c.workspace_id == workspace_id, mt.c.group_id == group_id
    )
    return {**dict(row), "members": int(conn.execute(count).scalar_one())}
