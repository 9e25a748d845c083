"""Reading the entries of a migration body: pure work, done once, at the door if it can be.

An events or transactions body is read entry by entry into what the worker needs (an event's
name, time, purchase id and value; a transaction's reward, type, amount and times) or into the
problem that refuses it, naming the field. Nothing here needs the store or the batch's accept
time, so the API reads a body when it accepts it (``prepare_events``, ``prepare_transactions``:
the ``prepare`` of their kinds in ``services.apply.kinds``), on its own cores and API
processes, and stores the reading beside the body; the worker, which applies a workspace's
batches one group at a time, only decides what needs the store. A batch without a reading (or
with one of another version) is read by the worker, with the same functions.

Each entry is read in its common shape first (``formats.masivo.common_entries``, decoded in C, a
few checks); one of another shape, or that breaks a rule, is read again with the general rules,
which name the problem. Both give the same answer for an entry the first accepts
(``tests/unit/test_common_shape_reads.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from roster.domain import outcomes as oc
from roster.domain.element_rules import (
    MAX_EVENT_NAME,
    EntryProblem,
    Problem,
    id_text,
    usable_id,
)
from roster.domain.loyalty import (
    PURCHASE,
    TRANSACTION_TYPES,
    InvalidAmount,
    amount_of,
    amount_text,
    entry_amount,
    entry_time,
    read_transaction,
    stored_amount,
    text_id,
)
from roster.domain.timestamps import InvalidTimestamp, parse_timestamp
from roster.formats import masivo

#: The version of a stored reading; a reading of another version is ignored (read again).
#: 2: a refused entry is stored as the domain's ``Problem`` (a map, where 1 had an array).
VERSION = 2


class ReadEvent(msgspec.Struct, array_like=True, tag_field="read", tag=0):
    """A migrated event that breaks no rule of its own (the window of its time against the
    batch's accept time is checked when it is applied)."""

    name: str
    occurred_at: int
    purchase_id: str | None
    #: A purchase's order value, as stored.
    value: str | None
    #: Whether it was sent with ``"fulfilled": true`` (stored as sent) or without a
    #: ``fulfilled`` member (``"fulfilled": true`` is added to the text sent).
    sent_fulfilled: bool
    #: The text to store, when neither (an event read with the general rules).
    text: str | None = None


class ReadTransaction(msgspec.Struct, array_like=True, tag_field="read", tag=1):
    """A migrated transaction that breaks no rule (``domain.loyalty.TransactionEntry``'s
    fields); it is stored as sent."""

    reward_id: str
    type: str
    amount: Decimal
    issued_at: int | None
    resolved_at: int | None


# Why an entry cannot be used is the domain's one ``Problem`` type: a dataclass, which msgspec
# stores as a map, told apart from the array-like reads beside it.

R = TypeVar("R")
#: A customer of a body: its id, its entries as sent, and their reading.
Entries = tuple[str, list[msgspec.Raw], list[R]]

#: Each customer's entries as read, in body order.
EventReads = list[list[ReadEvent | Problem]]
TransactionReads = list[list[ReadTransaction | Problem]]

_encode = msgspec.msgpack.Encoder().encode
_events_reading = msgspec.msgpack.Decoder(tuple[int, EventReads])
_transactions_reading = msgspec.msgpack.Decoder(tuple[int, TransactionReads])


def prepare_events(payload: bytes) -> bytes:
    """The stored reading of an events body the door accepted."""
    return _encode((VERSION, read_events(payload)))


def prepare_transactions(payload: bytes) -> bytes:
    """The stored reading of a transactions body the door accepted."""
    return _encode((VERSION, read_transactions(payload)))


def events_of(payload: bytes, prepared: bytes | None) -> EventReads:
    """The reading of an events body: the stored one when it is of this version."""
    if prepared is not None:
        try:
            version, reads = _events_reading.decode(prepared)
        except msgspec.DecodeError:  # another version's layout
            version = 0
        if version == VERSION:
            return reads
    return read_events(payload)


def transactions_of(payload: bytes, prepared: bytes | None) -> TransactionReads:
    """The reading of a transactions body: the stored one when it is of this version."""
    if prepared is not None:
        try:
            version, reads = _transactions_reading.decode(prepared)
        except msgspec.DecodeError:
            version = 0
        if version == VERSION:
            return reads
    return read_transactions(payload)


def with_entries(payload: bytes, name: str, reads: list[list[R]]) -> list[Entries[R]]:
    """Each customer's id and ``name`` entries as sent, beside their reading."""
    sent = masivo.entries_of(payload, name)
    return [(cid, raws, read) for (cid, raws), read in zip(sent, reads, strict=True)]


# --- events --------------------------------------------------------------------------------


def read_events(payload: bytes) -> EventReads:
    """Every event of a body (checked at the door), per customer."""
    common = masivo.common_entries(payload, "events")
    read: EventReads = []
    for n, (_, raws) in enumerate(masivo.entries_of(payload, "events")):
        shapes: Iterable[Any] = common[n] if common is not None else map(masivo.common_event, raws)
        mine: list[ReadEvent | Problem] = []
        for j, (raw, shape) in enumerate(zip(raws, shapes, strict=True)):
            event = None if shape is None else _common_event(shape)
            if event is None:
                try:
                    event = _general_event(raw, f"customers[{n}].events[{j}]")
                except EntryProblem as p:
                    mine.append(p.problem)
                    continue
            mine.append(event)
        read.append(mine)
    return read


def _common_event(e: masivo.CommonEvent) -> ReadEvent | None:
    """An event in its common shape that breaks no rule; ``None`` for any other: the general
    rules then decide (with the same result for an event this accepts)."""
    name = e.type
    if len(name) > MAX_EVENT_NAME or not name.strip():
        return None
    try:
        at = parse_timestamp(e.issued_at)
    except InvalidTimestamp:
        return None
    order = e.order
    sent = None if order is None else order.purchase_id
    pid = id_text(sent)
    if pid is not None and not usable_id(pid):
        return None
    value = None
    if name == PURCHASE:
        if pid is None or order is None or order.value is None:
            return None
        try:
            value = stored_amount(order.value)[1]
        except InvalidAmount:
            return None
    if e.fulfilled is not True and e.fulfilled is not msgspec.UNSET:
        return None  # sent with another value: the general rules write the text again
    return ReadEvent(name, at, pid, value, e.fulfilled is True)


def _general_event(raw: msgspec.Raw, where: str) -> ReadEvent:
    """An event read with the general rules; ``EntryProblem`` names what breaks one."""
    value = masivo.decode_entry(raw)
    if not isinstance(value, dict):
        raise EntryProblem(where, oc.INVALID_FIELD, f"'{where}' must be an object")
    name = value.get("type")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_EVENT_NAME:
        code = oc.MISSING_FIELD if name is None else oc.INVALID_FIELD
        msg = f"'{where}.type' must be a non-blank string of at most {MAX_EVENT_NAME} characters"
        raise EntryProblem(f"{where}.type", code, msg)
    at = entry_time(value.get("issued_at"), f"{where}.issued_at", required=True)
    assert at is not None
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
    return ReadEvent(name, at, pid, amount, False, text)


def event_text(event: ReadEvent, raw: msgspec.Raw) -> str:
    """The JSON text an event is stored as: as sent, fulfilled."""
    if event.text is not None:
        return event.text
    return masivo.entry_text(raw) if event.sent_fulfilled else masivo.fulfilled_text(raw)


# --- transactions --------------------------------------------------------------------------


def read_transactions(payload: bytes) -> TransactionReads:
    """Every transaction of a body (checked at the door), per customer."""
    common = masivo.common_entries(payload, "transactions")
    read: TransactionReads = []
    for n, (_, raws) in enumerate(masivo.entries_of(payload, "transactions")):
        shapes: Iterable[Any] = (
            common[n] if common is not None else map(masivo.common_transaction, raws)
        )
        mine: list[ReadTransaction | Problem] = []
        for j, (raw, shape) in enumerate(zip(raws, shapes, strict=True)):
            entry = common_transaction(shape)
            if entry is None:
                try:
                    t = read_transaction(
                        masivo.decode_entry(raw), f"customers[{n}].transactions[{j}]"
                    )
                except EntryProblem as p:
                    mine.append(p.problem)
                    continue
                entry = ReadTransaction(t.reward_id, t.type, t.amount, t.issued_at, t.resolved_at)
            mine.append(entry)
        read.append(mine)
    return read


def common_transaction(t: masivo.CommonTransaction | None) -> ReadTransaction | None:
    """A transaction in its common shape that breaks no rule; ``None`` for any other: the
    general rules (``domain.loyalty.read_transaction``) then decide, with the same result for
    one this accepts."""
    if t is None or t.type not in TRANSACTION_TYPES:
        return None
    reward = id_text(t.reward_id)
    if reward is None or not usable_id(reward):
        return None
    try:
        amount = amount_of(t.amount)
        issued = None if t.issued_at is None else parse_timestamp(t.issued_at)
        resolved = None if t.resolved_at is None else parse_timestamp(t.resolved_at)
    except (InvalidAmount, InvalidTimestamp):
        return None
    return ReadTransaction(reward, t.type, amount, issued, resolved)
