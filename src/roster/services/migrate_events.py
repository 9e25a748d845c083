"""Applying a Masivo event migration (``POST /customers/migrate/events``).

Migrated events are stored fulfilled and can never trigger a campaign. ``order.purchase_id``
identifies an order for ever in the workspace (SPEC §3): a repeat, in the same batch or after
any earlier one, is ``duplicate_ignored``, so events may be sent over many batches and retried.
A ``PURCHASE`` needs its ``purchase_id`` and ``order.value`` (what metrics add up). The
customer must have been migrated (``not_migrated`` otherwise), so a revert removes its events.
Once a customer's events are migrated, its metrics are computed from its purchases, not as sent.

Each event is read in its common shape first (``formats.masivo.common_event``, decoded in C, a
few checks); one that is not in that shape, or breaks a rule, is read again with the general
rules, which name the problem. It is stored as sent, with ``"fulfilled": true``.

Each event is an element of the ledger: ``index`` counts the events of the request in order
(across customers), and ``field`` names ``customers[i].events[j]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec
from sqlalchemy.engine import Connection

from roster.domain import outcomes as oc
from roster.domain.loyalty import (
    MAX_ID,
    PURCHASE,
    EntryProblem,
    InvalidAmount,
    amount_text,
    entry_amount,
    entry_time,
    stored_amount,
    text_id,
)
from roster.domain.outcomes import Ledger
from roster.domain.timestamps import InvalidTimestamp, check_event_window, parse_timestamp
from roster.domain.workspaces import Workspace
from roster.formats import masivo
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


class _Event(NamedTuple):
    """An event that can be stored, once its customer is known."""

    purchase_id: str | None
    #: Its row from ``name`` on: ``events.COLUMNS`` without workspace, uid and origin uid.
    row: tuple[Any, ...]


#: A customer's events as read: its id and, per event, the event or why it cannot be used.
_Read = tuple[str, list[_Event | EntryProblem]]


def plan_events(conn: Connection, workspace: Workspace, batches: list[Claimed]) -> EventsPlan:
    """Decide consecutive events batches of one workspace, in order, with a few reads for all
    of them; each keeps its own ledger."""
    bodies = [_read_body(b) for b in batches]
    plan = EventsPlan(max(b.accepted_at for b in batches))
    named = {cid for customers in bodies for cid, _ in customers}
    states = profiles.migration_states(conn, workspace.id, named)
    uids = {cid: state.uid for cid, state in states.items()}
    migrated = {state.uid for state in states.values() if state.migrated}
    wanted = {
        e.purchase_id
        for customers in bodies
        for _, events in customers
        for e in events
        if isinstance(e, _Event) and e.purchase_id is not None
    }
    stored = event_store.holders_of_source_ids(conn, workspace.id, wanted)
    seen: dict[str, tuple[str, int]] = {}  # purchase_id -> (batch, index) of its first event
    for batch, customers in zip(batches, bodies, strict=True):
        plan.ledgers.append(
            _plan_one(plan, workspace, batch, customers, uids, migrated, stored, seen)
        )
    return plan


def _plan_one(
    plan: EventsPlan,
    workspace: Workspace,
    batch: Claimed,
    customers: list[_Read],
    uids: dict[str, int],
    migrated: set[int],
    stored: dict[str, tuple[int, str]],
    seen: dict[str, tuple[str, int]],
) -> Ledger:
    ledger = Ledger(total=sum(len(events) for _, events in customers))
    rows = plan.rows
    index = -1
    for n, (cid, events) in enumerate(customers):
        uid = uids.get(cid)
        for j, event in enumerate(events):
            index += 1
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
            if isinstance(event, EntryProblem):
                ledger.fail(index, cid, event.field, event.code, event.message)
                continue
            pid = event.purchase_id
            if pid is not None and (pid in seen or pid in stored):
                if pid in seen:
                    first_batch, first = seen[pid]
                    msg = (
                        f"purchase_id {pid!r} is already in this batch (event {first}): ignored"
                        if first_batch == batch.id
                        else f"purchase_id {pid!r} was already stored by batch {first_batch}: "
                        "ignored"
                    )
                else:
                    msg = (
                        f"purchase_id {pid!r} was already stored by batch {stored[pid][1]}: ignored"
                    )
                where = f"customers[{n}].events[{j}].order.purchase_id"
                ledger.skip(index, cid, where, oc.DUPLICATE_IGNORED, msg)
                continue
            if pid is not None:
                seen[pid] = (batch.id, index)
            rows.append((workspace.id, uid, uid, *event.row))
            plan.customers.add(uid)
            ledger.mark_applied()
    return ledger


def _read_body(batch: Claimed) -> list[_Read]:
    """Every event of a stored body, read (pure: no store needed)."""
    received, batch_id = batch.accepted_at, batch.id
    common = masivo.common_entries(batch.payload, "events")
    read: list[_Read] = []
    for n, (cid, events) in enumerate(masivo.entries_of(batch.payload, "events")):
        shapes = common[n] if common is not None else map(masivo.common_event, events)
        mine: list[_Event | EntryProblem] = []
        for j, (raw, shape) in enumerate(zip(events, shapes, strict=True)):
            event = None if shape is None else _read_common(shape, raw, received, batch_id)
            if event is None:
                try:
                    event = _read_general(raw, f"customers[{n}].events[{j}]", received, batch_id)
                except EntryProblem as problem:
                    mine.append(problem)
                    continue
            mine.append(event)
        read.append((cid, mine))
    return read


def _read_common(
    e: masivo.CommonEvent, raw: msgspec.Raw, received: int, batch_id: str
) -> _Event | None:
    """An event in its common shape that breaks no rule; ``None`` for any other: the general
    rules then decide (with the same result for an event this accepts)."""
    name = e.type
    if len(name) > MAX_NAME or not name.strip():
        return None
    try:
        at = parse_timestamp(e.issued_at)
        check_event_window(at, received)
    except InvalidTimestamp:
        return None
    order = e.order
    sent = None if order is None else order.purchase_id
    pid = str(sent) if isinstance(sent, int) else sent
    if pid is not None and (len(pid) > MAX_ID or not pid.strip()):
        return None
    value = None
    if name == PURCHASE:
        if pid is None or order is None or order.value is None:
            return None
        try:
            value = stored_amount(order.value)[1]
        except InvalidAmount:
            return None
    if e.fulfilled is True:
        text = masivo.entry_text(raw)
    elif e.fulfilled is msgspec.UNSET:
        text = masivo.fulfilled_text(raw)
    else:
        return None
    return _Event(pid, _row(name, at, text, received, batch_id, pid, value))


def _row(
    name: str, at: int, text: str, received: int, batch_id: str, pid: str | None, value: str | None
) -> tuple[Any, ...]:
    """In ``events.COLUMNS`` order from ``name``: no local time, offset, platform, app version
    or device; it cannot trigger a campaign, and it is migrated."""
    return (
        name,
        at,
        None,
        None,
        None,
        None,
        None,
        text,
        received,
        batch_id,
        False,
        True,
        pid,
        value,
    )


def _read_general(raw: msgspec.Raw, where: str, received: int, batch_id: str) -> _Event:
    """An event read with the general rules; ``EntryProblem`` names what breaks one."""
    value = masivo.decode_entry(raw)
    if not isinstance(value, dict):
        raise EntryProblem(where, oc.INVALID_FIELD, f"'{where}' must be an object")
    name = value.get("type")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        code = oc.MISSING_FIELD if name is None else oc.INVALID_FIELD
        msg = f"'{where}.type' must be a non-blank string of at most {MAX_NAME} characters"
        raise EntryProblem(f"{where}.type", code, msg)
    at = entry_time(value.get("issued_at"), f"{where}.issued_at", required=True)
    assert at is not None
    try:
        check_event_window(at, received)
    except InvalidTimestamp as exc:
        raise EntryProblem(f"{where}.issued_at", oc.INVALID_TIMESTAMP, str(exc)) from None
    order = value.get("order")
    if order is not None and not isinstance(order, dict):
        raise EntryProblem(f"{where}.order", oc.INVALID_FIELD, f"'{where}.order' must be an object")
    order = order or {}
    purchase = name == PURCHASE
    pid = text_id(order.get("purchase_id"), f"{where}.order.purchase_id", required=purchase)
    amount = None
    if purchase:
        amount = amount_text(entry_amount(order.get("value"), f"{where}.order.value"))
    text = masivo.encode_entry({**value, "fulfilled": True})
    return _Event(pid, _row(name, at, text, received, batch_id, pid, amount))
