"""The rows a merge moves (devices, events), the tombstone it leaves, the journal it writes, and
the purge of old tombstones; all in the caller's transaction."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from roster.domain.timestamps import format_ms
from roster.store import erase
from roster.store.id_lists import among
from roster.store.schema import customer_identifiers, customers, devices, events, journal

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def move_devices(conn: Connection, from_uid: int, to_uid: int, at: int) -> list[str]:
    """Every device of ``from_uid`` now belongs to ``to_uid``; their ids."""
    query = (
        sa.update(devices)
        .where(devices.c.uid == from_uid)
        .values(uid=to_uid, updated_at=at)
        .returning(devices.c.device_id)
    )
    return sorted(d for (d,) in conn.execute(query))


def move_events(
    conn: Connection, from_uid: int, to_uid: int, *, since: int | None, untrigger: bool
) -> list[int]:
    """Move ``from_uid``'s own events (first recorded for it: ``origin_uid``), those that
    happened at ``since`` or later; ``untrigger`` makes them unable to trigger campaigns.
    Events it holds because an earlier merge moved them there stay (merges are not
    transitive). Returns the moved events' ids."""
    query = sa.update(events).where(events.c.uid == from_uid, events.c.origin_uid == from_uid)
    if since is not None:
        query = query.where(events.c.occurred_at >= since)
    values: dict[str, Any] = {"uid": to_uid}
    if untrigger:
        values["can_trigger"] = False
    return sorted(int(i) for (i,) in conn.execute(query.values(**values).returning(events.c.id)))


def reachable(conn: Connection, uid: int) -> bool:
    """A customer is reachable with at least one device that has a push id and has not opted out."""
    query = sa.select(sa.func.count()).where(
        devices.c.uid == uid, devices.c.push_id != "", devices.c.push_opted_out.is_(False)
    )
    return bool(conn.execute(query).scalar_one())


def tombstone(conn: Connection, uid: int, into_uid: int, at: int) -> None:
    """Leave only the uid of a merged customer: its customer id is freed, its attributes and
    identifiers go; ``merged_into`` and ``merged_at`` say where and when."""
    conn.execute(
        sa.update(customers)
        .where(customers.c.uid == uid)
        .values(
            customer_id=None,
            attributes="{}",
            attribute_times="{}",
            attribute_batches="{}",
            metrics=None,
            merged_into=into_uid,
            merged_at=at,
            updated_at=at,
        )
    )
    conn.execute(sa.delete(customer_identifiers).where(customer_identifiers.c.uid == uid))


def free_customer_ids(conn: Connection, uids: Collection[int]) -> None:
    """Free the customer ids of customers about to be merged away, so a new customer may take
    one in the same transaction (before their tombstones are written)."""
    if uids:
        query = sa.update(customers).where(among(customers.c.uid, uids, conn.dialect.name))
        conn.execute(query.values(customer_id=None))


def set_customer_id(conn: Connection, uid: int, customer_id: str) -> None:
    conn.execute(sa.update(customers).where(customers.c.uid == uid).values(customer_id=customer_id))


def record(conn: Connection, entries: Iterable[dict[str, Any]]) -> None:
    """Append journal entries (``detail`` as a JSON-able value)."""
    rows = [{**e, "detail": _encode(e["detail"]).decode()} for e in entries]
    if rows:
        conn.execute(sa.insert(journal), rows)


def merges_of(conn: Connection, workspace_id: str, uid: int) -> list[dict[str, Any]]:
    """The merges into this customer and out of it (a reverted customer is gone, with its
    uid: its revert is found by its customer id)."""
    query = (
        sa.select(journal)
        .where(
            journal.c.workspace_id == workspace_id,
            journal.c.action == "merge",
            sa.or_(journal.c.uid == uid, journal.c.into_uid == uid),
        )
        .order_by(journal.c.id)
    )
    return [_entry(r) for r in conn.execute(query)]


def entries_for_customer_id(
    conn: Connection, workspace_id: str, customer_id: str
) -> list[dict[str, Any]]:
    """Journal entries about earlier customers that held this customer id (merged away or
    reverted): a timeline says why the id names a new customer."""
    query = (
        sa.select(journal)
        .where(journal.c.workspace_id == workspace_id, journal.c.customer_id == customer_id)
        .order_by(journal.c.id)
    )
    return [_entry(r) for r in conn.execute(query)]


def merged_customer_ids(
    conn: Connection, workspace_id: str, customer_ids: Collection[str]
) -> dict[str, dict[str, Any]]:
    """The latest merge of each of these customer ids that was merged away."""
    if not customer_ids:
        return {}
    query = (
        sa.select(journal)
        .where(
            journal.c.workspace_id == workspace_id,
            journal.c.action == "merge",
            among(journal.c.customer_id, customer_ids, conn.dialect.name),
        )
        .order_by(journal.c.id)
    )
    return {r.customer_id: _entry(r) for r in conn.execute(query)}


def retained_uids(conn: Connection, workspace_id: str, uids: Collection[int]) -> set[int]:
    """Those of ``uids`` into which some customer was merged."""
    if not uids:
        return set()
    query = sa.select(journal.c.into_uid).where(
        journal.c.workspace_id == workspace_id,
        journal.c.action == "merge",
        among(journal.c.into_uid, uids, conn.dialect.name),
    )
    return {int(u) for (u,) in conn.execute(query)}


def merged_in(conn: Connection, workspace_id: str, uid: int) -> list[dict[str, Any]]:
    """The customers merged into this one, oldest merge first (a profile's merge info)."""
    query = (
        sa.select(
            journal.c.uid,
            journal.c.customer_id,
            journal.c.rule,
            journal.c.batch_id,
            journal.c.at,
        )
        .where(
            journal.c.workspace_id == workspace_id,
            journal.c.into_uid == uid,
            journal.c.action == "merge",
        )
        .order_by(journal.c.id)
    )
    return [
        {
            "uid": int(u),
            "customer_id": cid,
            "rule": rule,
            "batch_id": batch,
            "at": format_ms(at),
        }
        for u, cid, rule, batch, at in conn.execute(query)
    ]


def _entry(row: Any) -> dict[str, Any]:
    entry = dict(row._mapping)
    entry["detail"] = _decode(entry["detail"])
    return entry


def purge_tombstones(conn: Connection, cutoff: int, *, limit: int) -> list[int]:
    """Delete up to ``limit`` tombstones that received no new data since ``cutoff`` (merged
    before it, not changed since, and no event recorded for them since), with the events they
    still hold; returns their uids. The journal keeps what happened to them."""
    recent = sa.exists().where(events.c.uid == customers.c.uid, events.c.received_at >= cutoff)
    query = (
        sa.select(customers.c.uid)
        .where(
            customers.c.merged_into.is_not(None),
            customers.c.merged_at < cutoff,
            customers.c.updated_at < cutoff,
            ~recent,
        )
        .order_by(customers.c.merged_at)
        .limit(limit)
    )
    uids = [int(u) for (u,) in conn.execute(query)]
    erase.customers_and_all_they_own(conn, uids)
    return uids


def tombstones_into(conn: Connection, workspace_id: str, uid: int) -> list[int]:
    """The tombstones merged into ``uid``, and those merged into them, and so on."""
    found: list[int] = []
    frontier = [uid]
    while frontier:
        query = sa.select(customers.c.uid).where(
            customers.c.workspace_id == workspace_id,
            among(customers.c.merged_into, frontier, conn.dialect.name),
        )
        frontier = [int(u) for u in conn.execute(query).scalars()]
        found += frontier
    return found
