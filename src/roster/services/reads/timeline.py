"""A profile's timeline: what made it what it is, oldest first.

Built from what the store already keeps, so writing a batch costs nothing more: the batch that
created the customer (and the one that migrated it), the batches that recorded its events,
the stale updates skipped for it (the ledger's ``stale_attribute_skipped`` warnings naming its
customer id or one of its identifiers), and the journal: merges into it and out of it (with
what moved) and earlier customers that held its customer id (merged away or reverted).
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy.engine import Connection

from roster.domain.timestamps import format_ms
from roster.domain.workspaces import Workspace
from roster.store import batch_reads, profile_reads
from roster.store import merges as journal


def timeline_of(
    conn: Connection, workspace: Workspace, row: dict[str, Any], *, limit: int
) -> list[dict[str, Any]]:
    """The entries of one customer (a stored row, live or tombstone), oldest first, at most
    ``limit`` (the newest are kept)."""
    uid, cid = int(row["uid"]), row["customer_id"]
    entries: list[tuple[int, int, dict[str, Any]]] = []

    def add(at: int, order: int, entry: dict[str, Any]) -> None:
        entries.append((at, order, {"at": format_ms(at), **entry}))

    add(row["created_at"], 0, {"type": "created", "batch_id": row["created_batch"]})
    if migrated := row["migrated_batch"]:
        found = batch_reads.get(conn, workspace.id, migrated)
        at = found["accepted_at"] if found else row["created_at"]
        add(at, 1, {"type": "migrated", "batch_id": migrated})
    for batch_id, count, moved_in, first in profile_reads.event_batches(conn, uid):
        entry = {"type": "events", "batch_id": batch_id, "events": count}
        if moved_in:
            entry["moved_in"] = moved_in
        add(first, 2, entry)
    keys = {cid} if cid else set()
    attributes = msgspec.json.decode(row["attributes"])
    keys.update(str(attributes[n]) for n in workspace.identifiers if n in attributes)
    for batch_id, accepted, field, message in profile_reads.stale_skips(conn, workspace.id, keys):
        entry = {"type": "stale_attribute_skipped", "batch_id": batch_id, "field": field}
        add(accepted, 3, entry | {"message": message})
    for e in journal.merges_of(conn, workspace.id, uid):
        add(e["at"], 4, _journal_entry(e, uid))
    if cid:
        for e in journal.entries_for_customer_id(conn, workspace.id, cid):
            if e["uid"] != uid:
                add(e["at"], 4, _earlier_holder(e))
    entries.sort(key=lambda item: (item[0], item[1]))
    return [entry for _, _, entry in entries[-limit:]]


def _journal_entry(e: dict[str, Any], uid: int) -> dict[str, Any]:
    """A merge into this customer (with what moved) or out of it."""
    detail = e["detail"]
    if e["into_uid"] == uid:
        return {
            "type": "merged_in",
            "batch_id": e["batch_id"],
            "rule": e["rule"],
            "merged_uid": e["uid"],
            "merged_customer_id": e["customer_id"],
            **detail,
        }
    return {
        "type": "merged_into",
        "batch_id": e["batch_id"],
        "rule": e["rule"],
        "retained_uid": e["into_uid"],
        "retained_customer_id": e["into_customer_id"],
        "customer_id_freed": e["customer_id"],
        "devices_moved": len(detail["devices"]),
        "events_moved": len(detail["events"]),
    }


def _earlier_holder(e: dict[str, Any]) -> dict[str, Any]:
    """An earlier customer with this customer id: why the id names a new customer now."""
    if e["action"] == "revert":
        return {"type": "earlier_customer_reverted", "batch_id": e["batch_id"], "uid": e["uid"]}
    if e["action"] == "delete":
        return {"type": "earlier_customer_deleted", "batch_id": e["batch_id"], "uid": e["uid"]}
    return {
        "type": "earlier_customer_merged",
        "batch_id": e["batch_id"],
        "uid": e["uid"],
        "retained_uid": e["into_uid"],
    }
