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
    """Insert new groups and update the traits of existing ones: a statement for each."""
    rows = [
        {
            "b_group_id": g.group_id,
            "traits": _encode(g.traits).decode(),
            "trait_times": _encode(g.times).decode(),
            "exists": g.exists,
        }
        for g in changed
    ]
    new = [
        {"workspace_id": workspace_id, "group_id": r["b_group_id"], "traits": r["traits"],
         "trait_times": r["trait_times"], "created_at": now, "updated_at": now}
        for r in rows
        if not r["exists"]
    ]  # fmt: skip
    if new:
        conn.execute(sa.insert(t), new)
    old = [{k: v for k, v in r.items() if k != "exists"} for r in rows if r["exists"]]
    if old:
        update = (
            sa.update(t)
            .where(t.c.workspace_id == workspace_id, t.c.group_id == sa.bindparam("b_group_id"))
            .values(traits=sa.bindparam("traits"), trait_times=sa.bindparam("trait_times"))
            .values(updated_at=now)
        )
        conn.execute(update, old)


def add_members(
    conn: Connection, workspace_id: str, members: Collection[tuple[str, int]], joined_at: int
) -> None:
    """Make each ``(group id, uid)`` a membership; one that exists stays as it was. One read
    of the memberships these uids hold, one insert of the missing."""
    if not members:
        return
    uids = {uid for _, uid in members}
    query = sa.select(mt.c.group_id, mt.c.uid).where(
        mt.c.workspace_id == workspace_id, among(mt.c.uid, uids, conn.dialect.name)
    )
    held = {(gid, int(uid)) for gid, uid in conn.execute(query)}
    rows = [
        {"workspace_id": workspace_id, "group_id": gid, "uid": uid, "joined_at": joined_at}
        for gid, uid in sorted(set(members) - held)
    ]
    if rows:
        conn.execute(sa.insert(mt), rows)


def move_members(conn: Connection, from_uid: int, to_uid: int) -> None:
    """A merged customer's memberships become the retained one's (once each, each keeping
    when it was joined)."""
    query = sa.select(mt.c.workspace_id, mt.c.group_id, mt.c.joined_at).where(mt.c.uid == from_uid)
    rows = conn.execute(query).all()
    if not rows:
        return
    conn.execute(sa.delete(mt).where(mt.c.uid == from_uid))
    held = set(conn.execute(sa.select(mt.c.group_id).where(mt.c.uid == to_uid)).scalars())
    moved = [
        {"workspace_id": ws, "group_id": gid, "uid": to_uid, "joined_at": at}
        for ws, gid, at in rows
        if gid not in held
    ]
    if moved:
        conn.execute(sa.insert(mt), moved)


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
