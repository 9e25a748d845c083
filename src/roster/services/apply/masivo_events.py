"""Applying a Masivo event migration (``POST /customers/migrate/events``).

Migrated events are stored fulfilled and can never trigger a campaign. ``order.purchase_id``
identifies an order for ever in the workspace: a repeat, in the same batch or after
any earlier one, is ``duplicate_ignored``, so events may be sent over many batches and retried.
A ``PURCHASE`` needs its ``purchase_id`` and ``order.value`` (what metrics add up). The
customer must have been migrated (``not_migrated`` otherwise), so a revert removes its events.
Once a customer's events are migrated, its metrics are computed from its purchases, not as sent.

Each event is read (``formats.masivo_entries``: by the API when it accepted the batch, or
here) into its name, time, purchase id and value, or the problem that refuses it; here only
what needs the store or the accept time is decided. It is stored as sent, with
``"fulfilled": true``.

Each event is an element of the ledger: ``index`` counts the events of the request in order
(across customers), and ``field`` names ``customers[i].events[j]``. A field Masivo does not
document (``formats.masivo.unknown_fields``) is warned of by name at its event, with the
event's own outcome (``unknown_field``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from roster.domain import outcomes as oc
from roster.domain.batches import Claimed
from roster.domain.element_rules import Problem
from roster.domain.outcomes import Ledger
from roster.domain.timestamps import InvalidTimestamp, check_event_window, event_window
from roster.domain.workspaces import Workspace
from roster.formats import masivo, masivo_entries
from roster.formats.masivo_entries import ReadEvent
from roster.services.book.decided_rows import DecidedRows, Emit
from roster.store import events as event_store
from roster.store import profiles
from roster.store.events import EventRow


@dataclass(slots=True)
class EventsPlan:
    now: int
    ledgers: list[Ledger] = field(default_factory=list)
    customers: set[int] = field(default_factory=set)
    rows: DecidedRows | None = None

    def write(self, conn: Connection) -> list[Ledger]:
        assert self.rows is not None
        self.rows.write(event_store.streamed(conn))
        profiles.mark_events_migrated(conn, self.customers, self.now)
        return self.ledgers


def plan_events(conn: Connection, workspace: Workspace, batches: list[Claimed]) -> EventsPlan:
    """Decide consecutive events batches of one workspace, in order, with a few reads for all
    of them; each keeps its own ledger."""
    bodies = [_body(b) for b in batches]
    unknown = [_unknown(b) for b in batches]
    plan = EventsPlan(max(b.accepted_at for b in batches))
    named = {cid for customers in bodies for cid, _, _ in customers}
    states = profiles.migration_states(conn, workspace.id, named)
    uids = {cid: state.uid for cid, state in states.items()}
    migrated = {state.uid for state in states.values() if state.migrated}
    wanted = {
        e.purchase_id
        for customers in bodies
        for _, _, events in customers
        for e in events
        if type(e) is ReadEvent and e.purchase_id is not None
    }
    stored = event_store.holders_of_source_ids(conn, workspace.id, wanted)

    def decide(emit: Emit) -> None:
        seen: dict[str, tuple[str, int]] = {}  # purchase_id -> (batch, index) of its first
        for batch, customers, fields in zip(batches, bodies, unknown, strict=True):
            ledger = _plan_one(
                plan, emit, workspace, batch, customers, uids, migrated, stored, seen
            )
            _warn_unknown(ledger, customers, fields)
            plan.ledgers.append(ledger)

    plan.rows = DecidedRows.plan(conn, decide)
    return plan


def _body(batch: Claimed) -> list[masivo_entries.Entries[ReadEvent | Problem]]:
    reads = masivo_entries.events_of(batch.payload, batch.prepared)
    return masivo_entries.with_entries(batch.payload, "events", reads)


def _unknown(batch: Claimed) -> dict[int, list[masivo.UnknownField]]:
    """The fields of the body Masivo does not document, by customer (none, nearly always)."""
    found: dict[int, list[masivo.UnknownField]] = {}
    for u in masivo.unknown_fields(batch.payload, "events"):
        found.setdefault(u.customer, []).append(u)
    return found


def _warn_unknown(
    ledger: Ledger,
    customers: list[masivo_entries.Entries[ReadEvent | Problem]],
    unknown: dict[int, list[masivo.UnknownField]],
) -> None:
    """Warn of each field no one knows at its event (a customer's own field at its first
    event: each customer brings at least one), with the outcome the event had."""
    if not unknown:
        return
    first = 0
    for n, (cid, _, events) in enumerate(customers):
        for u in unknown.get(n, ()):
            index = first + (u.entry or 0)
            ledger.note(index, cid, u.field, oc.UNKNOWN_FIELD, u.message)
        first += len(events)


def _plan_one(
    plan: EventsPlan,
    emit: Emit,
    workspace: Workspace,
    batch: Claimed,
    customers: list[masivo_entries.Entries[ReadEvent | Problem]],
    uids: dict[str, int],
    migrated: set[int],
    stored: dict[str, tuple[int, str]],
    seen: dict[str, tuple[str, int]],
) -> Ledger:
    ledger = Ledger(total=sum(len(events) for _, _, events in customers))
    ws, received, batch_id = workspace.id, batch.accepted_at, batch.id
    earliest, latest = event_window(received)
    first = 0  # the index of the customer's first event in the request
    for n, (cid, raws, events) in enumerate(customers):
        start, first = first, first + len(events)
        uid = uids.get(cid)
        if uid is None or uid not in migrated:
            _refuse(ledger, cid, n, range(start, first), uid)
            continue
        applied = 0
        for j, (raw, event) in enumerate(zip(raws, events, strict=True)):
            index = start + j
            if isinstance(event, Problem):
                ledger.fail(index, cid, event.field, event.code, event.message)
                continue
            at = event.occurred_at
            if not earliest <= at <= latest:
                _outside_window(ledger, cid, index, f"customers[{n}].events[{j}]", at, received)
                continue
            pid = event.purchase_id
            if pid is not None:
                if pid in seen or pid in stored:
                    where = f"customers[{n}].events[{j}].order.purchase_id"
                    msg = _duplicate(pid, batch, seen, stored)
                    ledger.skip(index, cid, where, oc.DUPLICATE_IGNORED, msg)
                    continue
                seen[pid] = (batch_id, index)
            text = masivo_entries.event_text(event, raw)
            emit(
                EventRow(  # by position: keywords cost 0.5 µs more a row (EventRow)
                    ws,  # workspace_id
                    uid,
                    uid,  # origin_uid
                    event.name,
                    at,  # occurred_at
                    None,  # local_time
                    None,  # tz_offset
                    None,  # platform
                    None,  # app_version
                    None,  # device_id
                    text,  # attributes
                    received,  # received_at
                    batch_id,
                    False,  # can_trigger: a migrated event never triggers a campaign
                    True,  # migrated
                    pid,  # source_id
                    event.value,
                )
            )
            applied += 1
            ledger.created(index)
        if applied:
            plan.customers.add(uid)
    return ledger


def _refuse(ledger: Ledger, cid: str, n: int, indexes: range, uid: int | None) -> None:
    """Every event of a customer that does not exist or was not migrated fails."""
    if uid is None:
        code, msg = (
            oc.UNKNOWN_CUSTOMER,
            f"customer {cid!r} does not exist: migrate the customer first",
        )
    else:
        code = oc.NOT_MIGRATED
        msg = (
            f"customer {cid!r} was not created by a migration: migrated events belong "
            "to migrated customers (a revert could not remove them otherwise)"
        )
    for index in indexes:
        ledger.fail(index, cid, f"customers[{n}].id", code, msg)


def _outside_window(
    ledger: Ledger, cid: str, index: int, where: str, at: int, received: int
) -> None:
    try:
        check_event_window(at, received)
    except InvalidTimestamp as exc:
        ledger.fail(index, cid, f"{where}.issued_at", oc.INVALID_TIMESTAMP, str(exc))


def _duplicate(
    pid: str, batch: Claimed, seen: dict[str, tuple[str, int]], stored: dict[str, tuple[int, str]]
) -> str:
    if pid in seen:
        first_batch, first = seen[pid]
        if first_batch == batch.id:
            return f"purchase_id {pid!r} is already in this batch (event {first}): ignored"
        return f"purchase_id {pid!r} was already stored by batch {first_batch}: ignored"
    return f"purchase_id {pid!r} was already stored by batch {stored[pid][1]}: ignored"
