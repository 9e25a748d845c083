"""The merge machinery every kind of merge shares: fold the attributes in memory, then move the
devices and events, leave the tombstone, add the marker events and write the journal.

A merge is decided in memory (``fold``: the retained profile's attributes, by rule) and written
in the caller's transaction (``write_moves``), one move after the other: in a chain A→B, B→C
the second move sees what the first one did (B's devices include A's; A's events, moved onto
B, are not B's own and stay on B).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy.engine import Connection

from roster.domain import merges as rules
from roster.domain.campaigns import can_trigger
from roster.domain.merges import AttributeMove, Rule
from roster.domain.profiles import Profile
from roster.domain.timestamps import format_ms
from roster.store import events as event_store
from roster.store import groups as groups_store
from roster.store import merges as merge_store
from roster.store.events import EventRow

_encode = msgspec.json.Encoder().encode


@dataclass(slots=True)
class Move:
    """One merge: ``merged`` into ``retained``, by ``rule``, recorded for ``batch_id``."""

    merged: Profile
    retained: Profile
    rule: Rule
    batch_id: str
    at: int
    #: The customer ids as they were when the merge was decided.
    merged_customer_id: str | None = None
    retained_customer_id: str | None = None
    attributes: list[AttributeMove] = field(default_factory=list)
    #: The retained profile takes the merged one's customer id (it had none).
    takes_customer_id: bool = False


def fold(move: Move) -> None:
    """Decide the retained profile's attributes (in memory) and what became of each of the
    merged profile's; the merged profile is left with none."""
    merged, retained = move.merged, move.retained
    move.merged_customer_id = merged.customer_id
    move.retained_customer_id = retained.customer_id
    move.attributes = rules.merge_attributes(
        move.rule, retained.attributes, retained.times, merged.attributes, merged.times
    )
    for found in move.attributes:  # a value that moved keeps the batch that wrote it
        if found.outcome != "dropped":
            source = merged.sources.get(found.name)
            if source is None:
                retained.sources.pop(found.name, None)
            else:
                retained.sources[found.name] = source
    merged.attributes, merged.times, merged.sources = {}, {}, {}
    takes = move.rule == "identity" or move.rule in rules.LINKING
    if takes and not retained.customer_id and merged.customer_id:
        move.takes_customer_id = True
        retained.customer_id = merged.customer_id
    merged.customer_id = None


def write_moves(conn: Connection, workspace_id: str, moves: list[Move]) -> None:
    """Write decided merges in order (the retained profiles' attributes are written by the
    caller): devices, events, tombstone, markers, journal."""
    entries = []
    for move in moves:
        merged_uid, retained_uid = move.merged.uid, move.retained.uid
        assert merged_uid is not None
        assert retained_uid is not None
        at = move.at
        reachable_before = merge_store.reachable(conn, retained_uid)
        device_ids = merge_store.move_devices(conn, merged_uid, retained_uid, at)
        groups_store.move_members(conn, merged_uid, retained_uid)
        all_events = move.rule == "identity" or move.rule in rules.LINKING
        since = None if all_events else at - rules.EVENT_WINDOW_MS
        untrigger = move.rule == "customerio"
        event_ids = merge_store.move_events(
            conn, merged_uid, retained_uid, since=since, untrigger=untrigger
        )
        merge_store.tombstone(conn, merged_uid, retained_uid, at)
        if move.takes_customer_id and move.merged_customer_id is not None:
            merge_store.set_customer_id(conn, retained_uid, move.merged_customer_id)
        markers = _markers(workspace_id, move) if move.rule in ("moengage", "identity") else []
        event_store.insert_many(conn, markers)
        detail: dict[str, Any] = {
            "attributes": [a.as_json() for a in move.attributes],
            "devices": device_ids,
            "events": event_ids,
            "events_since": None if since is None else format_ms(since),
            "events_untriggered": untrigger,
            "reachable_before": reachable_before,
            "reachable_after": merge_store.reachable(conn, retained_uid),
            "customer_id_taken": move.takes_customer_id,
            "markers": [m.name for m in markers],
        }
        entries.append(
            {
                "workspace_id": workspace_id,
                "batch_id": move.batch_id,
                "at": at,
                "action": "merge",
                "rule": move.rule,
                "uid": merged_uid,
                "customer_id": move.merged_customer_id,
                "into_uid": retained_uid,
                "into_customer_id": move.retained_customer_id,
                "detail": detail,
            }
        )
    merge_store.record(conn, entries)


def _markers(workspace_id: str, move: Move) -> list[EventRow]:
    """``MOE_USER_MERGED`` on the retained profile, ``MOE_USER_MERGE_EVENT`` on the tombstone;
    each names the other profile."""
    merged, retained = move.merged, move.retained
    rows = []
    for owner, name, other, other_id in (
        (retained, rules.RETAINED_MARKER, merged.uid, move.merged_customer_id),
        (merged, rules.MERGED_MARKER, retained.uid, move.retained_customer_id),
    ):
        key = "merged" if owner is retained else "retained"
        attributes = _encode({f"{key}_uid": other, f"{key}_customer_id": other_id}).decode()
        uid = owner.uid
        assert uid is not None  # as ``write_moves`` checked
        rows.append(
            EventRow(
                workspace_id=workspace_id,
                uid=uid,
                origin_uid=uid,
                name=name,
                occurred_at=move.at,
                local_time=None,
                tz_offset=None,
                platform=None,
                app_version=None,
                device_id=None,
                attributes=attributes,
                received_at=move.at,
                batch_id=move.batch_id,
                can_trigger=can_trigger(move.at, move.at, migrated=False),
                migrated=False,
                source_id=None,
                value=None,
            )
        )
    return rows
