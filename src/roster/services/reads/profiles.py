"""What a user reads back of a customer: its profile, events, activity, wallets, timeline."""

from __future__ import annotations

import time
from typing import Any

import msgspec
from sqlalchemy.engine import Connection

from roster.domain.campaigns import ACTIVITY_WINDOW_MS
from roster.domain.element_rules import excerpt
from roster.domain.errors import NotFound
from roster.domain.identity import normalise_identifier
from roster.domain.timestamps import format_ms
from roster.domain.timestamps import format_optional_ms as _iso
from roster.domain.workspaces import Workspace
from roster.services.reads.loyalty import loyalty_view, transactions_view
from roster.services.reads.timeline import timeline_of
from roster.store import devices, events, profile_reads
from roster.store import groups as groups_store
from roster.store import merges as merge_store
from roster.store.database import Database


def find_customer(
    db: Database,
    workspace: Workspace,
    customer_id: str | None,
    uid: int | None = None,
    identifier: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The raw customer row of a ``customer_id``, a ``uid`` or an identifier (a tombstone too:
    it keeps its uid), for its events, activity and timeline."""
    with db.read() as conn:
        return _customer_row(conn, workspace, customer_id, uid, identifier)


def timeline(
    db: Database, workspace: Workspace, row: dict[str, Any], *, limit: int
) -> list[dict[str, Any]]:
    with db.read() as conn:
        return timeline_of(conn, workspace, row, limit=limit)


def profile(
    db: Database,
    workspace: Workspace,
    *,
    customer_id: str | None = None,
    uid: int | None = None,
    identifier: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A customer's profile with its devices, read in one snapshot."""
    view, _ = profile_and_row(
        db, workspace, customer_id=customer_id, uid=uid, identifier=identifier
    )
    return view


def profile_and_row(
    db: Database,
    workspace: Workspace,
    *,
    customer_id: str | None = None,
    uid: int | None = None,
    identifier: tuple[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``profile``, and the raw customer row it was read from (``find_customer``'s, for the
    customer's events, activity and timeline)."""
    with db.read() as conn:
        row = _customer_row(conn, workspace, customer_id, uid, identifier)
        device_views = [_device(d) for d in devices.of_customer(conn, row["uid"])]
        loyalty = loyalty_view(conn, workspace, row, int(time.time() * 1000))
        merged_in = merge_store.merged_in(conn, workspace.id, row["uid"])
        group_ids = groups_store.of_customer(conn, workspace.id, row["uid"])
    attributes = msgspec.json.decode(row["attributes"])
    times = msgspec.json.decode(row["attribute_times"])
    view = {
        "uid": row["uid"],
        "customer_id": row["customer_id"],
        "attributes": attributes,
        "attribute_times": {k: format_ms(v) for k, v in times.items()},
        #: The batch that wrote each value (none for values written before schema 0013).
        "attribute_batches": msgspec.json.decode(row["attribute_batches"] or "{}"),
        "identifiers": {n: attributes[n] for n in workspace.identifiers if n in attributes},
        "devices": device_views,
        "reachable": any(d["push_id"] and not d["push_opted_out"] for d in device_views),
        "groups": group_ids,
        **loyalty,
        "migrated": bool(row["migrated"]),
        "migrated_batch": row["migrated_batch"],
        "migrated_only": bool(row["migrated"]) and row["live_since"] is None,
        "merged_into": row["merged_into"],
        "merged_at": _iso(row["merged_at"]),
        "merged_in": merged_in,
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
        "created_batch": row["created_batch"],
    }
    return view, row


def group(db: Database, workspace: Workspace, group_id: str) -> dict[str, Any]:
    """A Data Pipelines group: its traits (with each one's source time) and member count."""
    with db.read() as conn:
        found = groups_store.view(conn, workspace.id, group_id)
    if found is None:
        raise NotFound(f"group {excerpt(group_id)} not found", field="group_id")
    times = msgspec.json.decode(found["trait_times"])
    return {
        "group_id": found["group_id"],
        "traits": msgspec.json.decode(found["traits"]),
        "trait_times": {k: format_ms(v) for k, v in times.items()},
        "members": found["members"],
        "created_at": _iso(found["created_at"]),
        "updated_at": _iso(found["updated_at"]),
    }


def _customer_row(
    conn: Connection,
    workspace: Workspace,
    customer_id: str | None,
    uid: int | None,
    identifier: tuple[str, str] | None,
) -> dict[str, Any]:
    if customer_id is not None:
        row = profile_reads.customer_by_id(conn, workspace.id, customer_id)
    elif uid is not None:
        row = profile_reads.customer_by_uid(conn, workspace.id, uid)
    elif identifier is not None:
        name, value = identifier
        row = profile_reads.customer_by_identifier(
            conn, workspace.id, name, normalise_identifier(name, value)
        )
    else:
        row = None
    if row is None:
        raise NotFound("customer not found", field="customer_id")
    return row


def transactions(db: Database, row: dict[str, Any], *, limit: int) -> list[dict[str, Any]]:
    """A customer's wallet transactions, newest first."""
    with db.read() as conn:
        return transactions_view(conn, row["uid"], limit=limit)


def _device(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "device_id": d["device_id"],
        "platform": d["platform"],
        "push_id": d["push_id"],
        "push_opted_out": bool(d["push_opted_out"]),
        "attributes": msgspec.json.decode(d["attributes"]),
        "created_at": _iso(d["created_at"]),
        "updated_at": _iso(d["updated_at"]),
    }


def event_list(
    db: Database, row: dict[str, Any], *, since: int | None, until: int | None, limit: int
) -> list[dict[str, Any]]:
    with db.read() as conn:
        rows = events.of_customer(conn, row["uid"], since=since, until=until, limit=limit)
    return [_event(e) for e in rows]


def activity(db: Database, row: dict[str, Any], *, limit: int) -> list[dict[str, Any]]:
    """The activity log: events of the last 30 days."""
    since = int(time.time() * 1000) - ACTIVITY_WINDOW_MS
    return event_list(db, row, since=since, until=None, limit=limit)


def _event(e: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": e["id"],
        "name": e["name"],
        "occurred_at": format_ms(e["occurred_at"]),
        "local_time": _iso(e["local_time"]),
        "user_timezone_offset": e["tz_offset"],
        "platform": e["platform"],
        "app_version": e["app_version"],
        "device_id": e["device_id"],
        "attributes": msgspec.json.decode(e["attributes"]),
        "received_at": format_ms(e["received_at"]),
        "batch_id": e["batch_id"],
        "can_trigger": bool(e["can_trigger"]),
        "migrated": bool(e["migrated"]),
        "first_recorded_for_uid": e["origin_uid"],
    }
