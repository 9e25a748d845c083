"""Applying a Masivo event migration (``POST /customers/migrate/events``).

Migrated events are stored fulfilled and can never trigger a campaign. ``order.purchase_id``
identifies an order for ever in the workspace (SPEC §3): a repeat, in the same batch or after
any earlier one, is ``duplicate_ignored``, so events may be sent over many batches and retried.
A ``PURCHASE`` needs its ``purchase_id`` and ``order.value`` (what metrics add up). The
customer must have been migrated (``not_migrated`` otherwise), so a revert removes its events.
Once a customer's events are migrated, its metrics are computed from its purchases, not as sent.

Each event is an element of the ledger: ``index`` counts the events of the request in order
(across customers), and ``field`` names ``customers[i].events[j]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from roster.domain import outcomes as oc
from roster.domain.loyalty import (
    PURCHASE,
    EntryProblem,
    amount_text,
    entry_amount,
    entry_time,
    text_id,
)
from roster.domain.outcomes import Ledger
from roster.domain.timestamps import InvalidTimestamp, check_event_window
from roster.domain.workspaces import Workspace
from roster.formats.masivo import decode_body, encode_entry
from roster.store import events as event_store
from roster.store import profiles
from roster.store.batches import Claimed

MAX_NAME = 255


@dataclass(slots=True)
class EventsPlan:
    now: int
    ledgers: list[Ledger] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    customers: set[int] = field(default_factory=set)

    def write(self, conn: Connection) -> list[Ledger]:
        event_store.insert_many(conn, self.rows)
        profiles.mark_events_migrated(conn, self.customers, self.now)
        return self.ledgers


@dataclass(frozen=True, slots=True)
class _Event:
    name: str
    occurred_at: int
    purchase_id: str | None
    value: str | None


def plan_events(conn: Connection, workspace: Workspace, batches: list[Claimed]) -> EventsPlan:
    """Decide consecutive events batches of one workspace, in order, with a few reads for all
    of them; each keeps its own ledger."""
    bodies: list[list[dict[str, Any]]] = [decode_body(b.payload)["customers"] for b in batches]
    plan = EventsPlan(max(b.accepted_at for b in batches))
    named = {e["id"] for entries in bodies for e in entries}
    states = profiles.migration_states(conn, workspace.id, named)
    uids = {cid: state.uid for cid, state in states.items()}
    migrated = {state.uid for state in states.values() if state.migrated}
    wanted = {
        pid
        for entries in bodies
        for e in entries
        for ev in e["events"]
        if (pid := _purchase_id(ev)) is not None
    }
    stored = event_store.holders_of_source_ids(conn, workspace.id, wanted)
    seen: dict[str, tuple[str, int]] = {}  # purchase_id -> (batch, index) of its first event
    for batch, entries in zip(batches, bodies, strict=True):
        plan.ledgers.append(
            _plan_one(plan, workspace, batch, entries, uids, migrated, stored, seen)
        )
    return plan


def _plan_one(
    plan: EventsPlan,
    workspace: Workspace,
    batch: Claimed,
    entries: list[dict[str, Any]],
    uids: dict[str, int],
    migrated: set[int],
    stored: dict[str, tuple[int, str]],
    seen: dict[str, tuple[str, int]],
) -> Ledger:
    ledger = Ledger(total=sum(len(e["events"]) for e in entries))
    index = -1
    for n, entry in enumerate(entries):
        cid: str = entry["id"]
        uid = uids.get(cid)
        for j, raw in enumerate(entry["events"]):
            index += 1
            where = f"customers[{n}].events[{j}]"
            if uid is None:
                msg = f"customer {cid!r} does not exist: migrate the customer first"
                ledger.fail(index, cid, f"customers[{n}].id", oc.UNKNOWN_CUSTOMER, msg)
                continue
            if uid not in migrated:
                msg = (
                    f"customer {cid!r} was not created by a migration: migrated events belong "
                    "to migrated customers (a revert could not remove them otherwise)"
                )
                ledger.fail(index, cid, f"customers[{n}].id", oc.NOT_MIGRATED, msg)
                continue
            try:
                event = _read(raw, where, batch.accepted_at)
            except EntryProblem as p:
                ledger.fail(index, cid, p.field, p.code, p.message)
                continue
            pid = event.purchase_id
            if pid is not None and pid in seen:
                first_batch, first = seen[pid]
                msg = (
                    f"purchase_id {pid!r} is already in this batch (event {first}): ignored"
                    if first_batch == batch.id
                    else f"purchase_id {pid!r} was already stored by batch {first_batch}: ignored"
                )
                ledger.skip(index, cid, f"{where}.order.purchase_id", oc.DUPLICATE_IGNORED, msg)
                continue
            if pid is not None and pid in stored:
                msg = f"purchase_id {pid!r} was already stored by batch {stored[pid][1]}: ignored"
                ledger.skip(index, cid, f"{where}.order.purchase_id", oc.DUPLICATE_IGNORED, msg)
                continue
            if pid is not None:
                seen[pid] = (batch.id, index)
            attributes = {**raw, "fulfilled": True}
            plan.rows.append(
                (  # in ``events.COLUMNS`` order: no local time, offset, platform, app, device
                    *(workspace.id, uid, uid, event.name, event.occurred_at),
                    *(None, None, None, None, None),
                    *(encode_entry(attributes), batch.accepted_at, batch.id),
                    *(False, True, pid, event.value),  # can_trigger, migrated
                )
            )
            plan.customers.add(uid)
            ledger.mark_applied()
    return ledger


def _purchase_id(raw: Any) -> str | None:
    if isinstance(raw, dict) and isinstance(order := raw.get("order"), dict):
        pid = order.get("purchase_id")
        if isinstance(pid, int) and not isinstance(pid, bool):
            return str(pid)
        return pid if isinstance(pid, str) else None
    return None


def _read(raw: Any, where: str, received: int) -> _Event:
    if not isinstance(raw, dict):
        raise EntryProblem(where, oc.INVALID_FIELD, f"'{where}' must be an object")
    name = raw.get("type")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        code = oc.MISSING_FIELD if name is None else oc.INVALID_FIELD
        msg = f"'{where}.type' must be a non-blank string of at most {MAX_NAME} characters"
        raise EntryProblem(f"{where}.type", code, msg)
    at = entry_time(raw.get("issued_at"), f"{where}.issued_at", required=True)
    assert at is not None
    try:
        check_event_window(at, received)
    except InvalidTimestamp as exc:
        raise EntryProblem(f"{where}.issued_at", oc.INVALID_TIMESTAMP, str(exc)) from None
    order = raw.get("order")
    if order is not None and not isinstance(order, dict):
        raise EntryProblem(f"{where}.order", oc.INVALID_FIELD, f"'{where}.order' must be an object")
    order = order or {}
    purchase = name == PURCHASE
    pid = text_id(order.get("purchase_id"), f"{where}.order.purchase_id", required=purchase)
    value = None
    if purchase:
        value = amount_text(entry_amount(order.get("value"), f"{where}.order.value"))
    return _Event(name, at, pid, value)
