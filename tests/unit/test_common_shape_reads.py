"""The worker reads migration entries in their common shape first (decoded in C, a few checks)
and with the general rules otherwise. Whatever the common-shape reading accepts, the general
rules must accept with the same values: these properties compare the two on generated entries,
many of them just off the common shape."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roster.domain.element_rules import Problem
from roster.domain.loyalty import (
    EntryProblem,
    InvalidAmount,
    amount_of,
    amount_text,
    read_transaction,
    stored_amount,
)
from roster.domain.timestamps import InvalidTimestamp, format_ms, parse_timestamp
from roster.formats import masivo, masivo_entries
from roster.services.apply.kinds import KINDS

RECEIVED = 1_796_222_640_000  # 2026-12-02
BATCH = "9d6daeaa-741e-47e3-931d-4818004cb6da"

decimal_texts = st.one_of(
    st.from_regex(r"-?(0|[1-9][0-9]{0,19})(\.[0-9]{0,21})?([eE][+-]?[0-9]{1,2})?", fullmatch=True),
    st.sampled_from(["-0", "0.0", "1E+3", "12.50", "1e-19", "999999999999999999.5", "NaN"]),
)

#: Numbers a JSON body can hold (``NaN`` is refused at the door).
json_numbers = decimal_texts.filter(lambda text: text != "NaN").map(Decimal)


def _outcome(f: Any, *args: Any) -> tuple[str, Any]:
    try:
        value = f(*args)
    except (InvalidAmount, InvalidTimestamp, EntryProblem) as exc:
        return "refused", type(exc).__name__
    return "ok", repr(value)


@given(decimal_texts)
def test_an_amount_read_from_its_decimal_equals_the_general_reading(text: str) -> None:
    general = _outcome(amount_of, text)  # a numeric string takes the general rules
    assert _outcome(amount_of, Decimal(text)) == general
    if general[0] == "ok":
        amount = amount_of(text)
        assert stored_amount(Decimal(text)) == (amount, amount_text(amount))
        assert repr(stored_amount(Decimal(text))[0]) == repr(amount)


moments = st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_999)


@given(moments, st.sampled_from(["", ".1", ".12", ".123456", "+00:00"]))
def test_an_iso_time_in_utc_reads_as_the_general_rules_read_it(ms: int, tail: str) -> None:
    text = format_ms(ms)  # 2024-04-08T09:09:45.726Z
    variants = [text, text[:-5] + tail + "Z", " " + text, text.lower()]
    for variant in variants:
        fast = _outcome(parse_timestamp, variant)
        general = _outcome(parse_timestamp, variant.strip() + " ")  # no Z at the end: general
        assert fast == general, variant


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.text(max_size=6),
)
times = st.one_of(
    moments.map(format_ms),
    st.integers(0, 2 * RECEIVED).map(format_ms),
    st.integers(-(2**40), 2**42),
    st.sampled_from(["2026-01-02", "2026-01-02T03:04:05+05:30", " 2026-01-02T03:04:05Z", "soon"]),
)
orders = st.one_of(
    st.none(),
    st.text(max_size=3),
    st.fixed_dictionaries(
        {},
        optional={
            "purchase_id": st.one_of(st.text(max_size=4), st.integers(-5, 5), scalars),
            "value": st.one_of(json_numbers, scalars),
            "payment_method": scalars,
        },
    ),
)
events = st.fixed_dictionaries(
    {},
    optional={
        "type": st.one_of(st.sampled_from(["PURCHASE", "VISIT", " ", ""]), scalars),
        "issued_at": times,
        "order": orders,
        "fulfilled": scalars,
        "brand_id": scalars,
    },
)

#: Events of the common shape, or a step away from it.
near_common = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["PURCHASE", "VISIT"]),
        "issued_at": st.integers(RECEIVED - 10**11, RECEIVED + 10**6).map(format_ms),
        "order": st.fixed_dictionaries(
            {"purchase_id": st.text(min_size=1, max_size=4), "value": json_numbers}
        ),
    },
    optional={"fulfilled": st.booleans(), "brand_id": scalars},
)


def _raw(value: Any) -> msgspec.Raw:
    body = masivo.encode_entry({"customers": [{"id": "c", "events": [value]}]}).encode()
    return masivo.entries_of(body, "events")[0][1][0]


@settings(max_examples=400)
@given(st.one_of(events, near_common))
def test_an_event_read_in_its_common_shape_equals_the_general_reading(value: Any) -> None:
    raw = _raw(value)
    shape = masivo.common_event(raw)
    fast = None if shape is None else masivo_entries._common_event(shape)
    try:
        general = masivo_entries._general_event(raw, "customers[0].events[0]")
    except EntryProblem:
        assert fast is None  # the common reading never accepts what the rules refuse
        return
    if fast is None:
        return  # another shape: the general rules decide
    assert (fast.name, fast.occurred_at, fast.purchase_id, fast.value) == (
        general.name,
        general.occurred_at,
        general.purchase_id,
        general.value,
    )
    # The stored text: as sent (not encoded again), with the same value as the general one's.
    stored = masivo_entries.event_text(fast, raw)
    assert general.text is not None
    assert json.loads(stored) == json.loads(general.text)


transactions = st.fixed_dictionaries(
    {},
    optional={
        "type": st.one_of(st.sampled_from(["ACCUMULATION", "REDEMPTION", "GIFT"]), scalars),
        "reward_id": st.one_of(st.text(max_size=4), st.integers(-5, 5), scalars),
        "amount": st.one_of(json_numbers, scalars),
        "issued_at": st.one_of(st.none(), times),
        "resolved_at": st.one_of(st.none(), times),
        "details": scalars,
    },
)


@settings(max_examples=400)
@given(transactions)
def test_a_transaction_read_in_its_common_shape_equals_the_general_reading(value: Any) -> None:
    body = masivo.encode_entry({"customers": [{"id": "c", "transactions": [value]}]}).encode()
    raw = masivo.entries_of(body, "transactions")[0][1][0]
    fast = masivo_entries.common_transaction(masivo.common_transaction(raw))
    try:
        general = read_transaction(masivo.decode_entry(raw), "customers[0].transactions[0]")
    except EntryProblem:
        assert fast is None
        return
    if fast is not None:
        assert (fast.reward_id, fast.type, fast.amount, fast.issued_at, fast.resolved_at) == general
        assert repr(fast.amount) == repr(general.amount)


def test_the_common_shape_covers_the_vendors_sample_entries() -> None:
    """The entries of the vendor's documentation take the common reading."""
    event = {
        "type": "PURCHASE",
        "issued_at": "2024-04-08T09:09:45.726Z",
        "order": {"purchase_id": "po-1", "value": Decimal("120.50")},
    }
    raw = _raw(event)
    shape = masivo.common_event(raw)
    assert shape is not None
    read = masivo_entries._common_event(shape)
    assert read is not None
    assert read.value == "120.5"
    sent = json.loads(json.dumps(event, default=float))
    assert json.loads(masivo_entries.event_text(read, raw)) == {**sent, "fulfilled": True}
    tx = {"type": "REDEMPTION", "reward_id": "r1", "amount": -300, "issued_at": "2024-04-08Z"}
    body = masivo.encode_entry({"customers": [{"id": "c", "transactions": [tx]}]}).encode()
    common = masivo.common_transaction(masivo.entries_of(body, "transactions")[0][1][0])
    with pytest.raises(EntryProblem):  # a bare date with Z is not ISO-8601: refused either way
        read_transaction(tx, "t")
    assert masivo_entries.common_transaction(common) is None


def prepare(kind: str, body: bytes) -> bytes | None:
    """The reading the door of ``kind`` stores beside the body (``None`` for a kind without)."""
    read = KINDS[kind].prepare
    return None if read is None else read(body)


def test_a_reading_made_at_the_door_is_the_one_the_worker_would_make() -> None:
    """The stored reading round-trips exactly; one of another version is ignored."""
    good = {"type": "PURCHASE", "issued_at": "2024-04-08T09:09:45.726Z"}
    good["order"] = {"purchase_id": "po-1", "value": Decimal("9.90")}
    bad = {"type": "PURCHASE", "issued_at": "yesterday"}
    body = masivo.encode_entry({"customers": [{"id": "c", "events": [good, bad]}]}).encode()
    prepared = prepare("masivo.events", body)
    assert prepared is not None
    reads = masivo_entries.read_events(body)
    assert masivo_entries.events_of(body, prepared) == reads
    assert isinstance(reads[0][1], Problem)
    assert reads[0][1].field == "customers[0].events[1].issued_at"
    other = msgspec.msgpack.encode((masivo_entries.VERSION + 1, [[["not", "a", "reading"]]]))
    assert masivo_entries.events_of(body, other) == reads
    tx = {"type": "ACCUMULATION", "reward_id": 7, "amount": Decimal("1.50")}
    body = masivo.encode_entry({"customers": [{"id": "c", "transactions": [tx]}]}).encode()
    prepared = prepare("masivo.transactions", body)
    (read,) = masivo_entries.transactions_of(body, prepared)[0]
    assert read == masivo_entries.ReadTransaction("7", "ACCUMULATION", Decimal("1.5"), None, None)
    assert prepare("masivo.customers", body) is None
