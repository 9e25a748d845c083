"""Masivo loyalty migration (``/api/storefront/v1/customers/migrate…``) wire format: the door.

The four migration bodies (seed 000) are checked here, after strict JSON parsing and
before anything is stored; a body that breaks a batch rule is refused whole (the API answers
422 ``{"error", "details"}``), naming the field and the rule:

* ``POST /customers/migrate``: ``{"customers": [{"id", …}]}``, 1 to 1000 customers;
* ``POST /customers/migrate/events``: ``{"customers": [{"id", "events": [...]}]}``, at most
  1000 customers and 1000 events in all, and at least one event per customer;
* ``POST /customers/migrate/transactions``: ``{"customers": [{"id", "transactions": [...]}]}``,
  at most 1000 customers and 1000 transactions in all;
* ``DELETE /customers/migrate``: ``{"customers": ["id", …]}``, 1 to 1000 ids.

Only the envelope is the door's business: what each customer, event or transaction says is
decided per element by the worker, so one bad entry never sinks the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from types import GenericAlias
from typing import Any, Generic, TypeVar

import msgspec

from roster.domain.element_rules import MAX_ID_LENGTH, field_name, usable_id
from roster.domain.errors import InvalidEnvelope, TooManyElements
from roster.formats.strict_json import loads_strict

MAX_CUSTOMERS = 1000
MAX_EVENTS = 1000
MAX_TRANSACTIONS = 1000


@dataclass(frozen=True, slots=True)
class MigrationSummary:
    """What the door learnt about a valid migration body."""

    customers: int
    #: Events or transactions in all (0 for customers and reverts).
    entries: int


#: The worker's reading of a stored body (checked here at the door): numbers with a fraction
#: become ``Decimal``, so amounts are never rounded through a float.
_decode = msgspec.json.Decoder(float_hook=Decimal).decode
_encode = msgspec.json.Encoder(decimal_format="number").encode


def decode_body(payload: bytes) -> Any:
    """A stored migration body, with exact decimals."""
    return _decode(payload)


def encode_entry(entry: Any) -> str:
    """An entry as stored (JSON text), its decimals written as the numbers they were."""
    return _encode(entry).decode()


# --- the common shape of an entry, read in C ---------------------------------------------------
#
# The worker reads a stored events or transactions body as each customer's id and its entries
# as sent (``msgspec.Raw``), then each entry as the shape nearly every client sends (typed
# structs below, decoded in C). An entry of another shape (a number where a string is usual, an
# order that is not an object) fails the typed decode (``None``) and is read with the general
# rules from its generic decoding (``decode_entry``): both give the same answer.


C = TypeVar("C")


class _Events(msgspec.Struct):
    """A customer of an events body (checked at the door); its other members are ignored."""

    id: str
    events: list[msgspec.Raw]


class _Transactions(msgspec.Struct):
    id: str
    transactions: list[msgspec.Raw]


class _Body(msgspec.Struct, Generic[C]):
    """A migration body, as a list of customers of one shape."""

    customers: list[C]


_events_body = msgspec.json.Decoder(_Body[_Events]).decode
_transactions_body = msgspec.json.Decoder(_Body[_Transactions]).decode


def entries_of(payload: bytes, name: str) -> list[tuple[str, list[msgspec.Raw]]]:
    """Each customer's id and its ``name`` entries (``events`` or ``transactions``) as sent."""
    if name == "events":
        return [(c.id, c.events) for c in _events_body(payload).customers]
    return [(c.id, c.transactions) for c in _transactions_body(payload).customers]


class CommonOrder(msgspec.Struct):
    purchase_id: str | int | None = None
    value: Decimal | None = None


class CommonEvent(msgspec.Struct):
    type: str
    issued_at: str
    order: CommonOrder | None = None
    fulfilled: bool | msgspec.UnsetType = msgspec.UNSET


class CommonTransaction(msgspec.Struct):
    type: str
    reward_id: str | int
    amount: Decimal
    issued_at: str | None = None
    resolved_at: str | None = None


class _CommonEvents(msgspec.Struct):
    events: list[CommonEvent]


class _CommonTransactions(msgspec.Struct):
    transactions: list[CommonTransaction]


_common_events_body = msgspec.json.Decoder(_Body[_CommonEvents]).decode
_common_transactions_body = msgspec.json.Decoder(_Body[_CommonTransactions]).decode
_common_event = msgspec.json.Decoder(CommonEvent).decode
_common_transaction = msgspec.json.Decoder(CommonTransaction).decode


def common_entries(payload: bytes, name: str) -> list[list[Any]] | None:
    """Every customer's events (or transactions) in their common shape, read in one pass;
    ``None`` when one has another shape (each is then read alone)."""
    try:
        if name == "events":
            return [c.events for c in _common_events_body(payload).customers]
        return [c.transactions for c in _common_transactions_body(payload).customers]
    except msgspec.ValidationError:
        return None


def common_event(raw: msgspec.Raw) -> CommonEvent | None:
    """The event in its common shape, or ``None`` if it has another one."""
    try:
        return _common_event(raw)
    except msgspec.ValidationError:
        return None


def common_transaction(raw: msgspec.Raw) -> CommonTransaction | None:
    """The transaction in its common shape, or ``None`` if it has another one."""
    try:
        return _common_transaction(raw)
    except msgspec.ValidationError:
        return None


# --- fields no one knows ----------------------------------------------------------------------
#
# Every field Masivo documents for a customer of an events or transactions body, an event, an
# event's order and a transaction (docs.masivo.ai, ``/customers/migrate/events`` and
# ``/customers/migrate/transactions``), whether Roster reads it or not. Another field is not
# read (an event or transaction is still stored as sent) but warned of by name
# (``unknown_field``), so a typo such as ``purchaseid`` shows in the ledger; the ones Roster
# does not use are listed in docs/loyalty-migration.md.

EVENTS_CUSTOMER_FIELDS = frozenset({"id", "events"})
EVENT_FIELDS = frozenset(
    {"type", "order", "fulfilled", "issued_at", "resolved_at", "brand_id", "channel_id"}
    | {"store_id"}
)
ORDER_FIELDS = frozenset(
    {"purchase_id", "value", "discounted_value", "products", "shipping", "payment_method"}
    | {"channel_id", "store_id", "redeem", "metadata"}
)
TRANSACTIONS_CUSTOMER_FIELDS = frozenset({"id", "transactions"})
TRANSACTION_FIELDS = frozenset(
    {"brand_id", "reward_id", "details", "type", "issued_at", "resolved_at", "amount", "cost"}
    | {"store_id", "channel_id", "event", "funded_by"}
)


@dataclass(frozen=True, slots=True)
class UnknownField:
    """A field of a customer of an events or transactions body, or of one of its entries,
    that Masivo does not document (and Roster does not know)."""

    #: The customer's position in the body.
    customer: int
    #: The entry's position among the customer's (``None``: a field of the customer itself).
    entry: int | None
    #: Where it sat: ``customers[0].events[1].attrs``.
    field: str
    message: str


def _keys_of(fields: frozenset[str], **nested: Any) -> Any:
    """A Struct that takes exactly ``fields``, each skipped over undecoded (or ``nested``)."""
    skipped = msgspec.Raw(b"null")
    spec = [(f, nested.get(f, msgspec.Raw), skipped) for f in sorted(fields)]
    return msgspec.defstruct("KnownFields", spec, forbid_unknown_fields=True)


def _only_known(own: frozenset[str], name: str, entry: Any) -> Any:
    """A decoder of a body that holds only documented fields (the body's own are not read)."""
    customer = _keys_of(own, **{name: GenericAlias(list, (entry,))})
    body = msgspec.defstruct("KnownBody", [("customers", GenericAlias(list, (customer,)))])
    return msgspec.json.Decoder(body).decode


_ORDER_KEYS = _keys_of(ORDER_FIELDS)
_ONLY_KNOWN = {
    "events": _only_known(
        EVENTS_CUSTOMER_FIELDS, "events", _keys_of(EVENT_FIELDS, order=_ORDER_KEYS | None)
    ),
    "transactions": _only_known(
        TRANSACTIONS_CUSTOMER_FIELDS, "transactions", _keys_of(TRANSACTION_FIELDS)
    ),
}


def unknown_fields(payload: bytes, name: str) -> list[UnknownField]:
    """Every field of a stored (door-checked) events or transactions body (``name``) that
    Masivo does not document, in body order: none for nearly every body, found in one decode
    in C; a body with some (or with an entry of another shape) is walked whole."""
    try:
        _ONLY_KNOWN[name](payload)
    except msgspec.ValidationError:
        return _walk(_decode(payload)["customers"], name)
    return []


def _walk(customers: list[dict[str, Any]], name: str) -> list[UnknownField]:
    events = name == "events"
    own = EVENTS_CUSTOMER_FIELDS if events else TRANSACTIONS_CUSTOMER_FIELDS
    fields = EVENT_FIELDS if events else TRANSACTION_FIELDS
    level = "an event" if events else "a transaction"
    found: list[UnknownField] = []
    for n, customer in enumerate(customers):
        where = f"customers[{n}]"
        body = "an events body" if events else "a transactions body"
        found += _unknown(customer, own, n, None, where, f"a customer of {body}")
        for j, entry in enumerate(customer[name]):
            if not isinstance(entry, dict):
                continue  # refused as it is, by the rules that read it
            at = f"{where}.{name}[{j}]"
            found += _unknown(entry, fields, n, j, at, level)
            order = entry.get("order") if events else None
            if isinstance(order, dict):
                found += _unknown(order, ORDER_FIELDS, n, j, f"{at}.order", "an order")
    return found


def _unknown(
    value: dict[str, Any], known: frozenset[str], n: int, j: int | None, where: str, level: str
) -> list[UnknownField]:
    found = []
    for key in value:
        if key not in known:
            name = field_name(key)
            msg = (
                f"'{name}' is not a field Masivo documents for {level}: "
                + ("ignored" if j is None else "not read, kept in the stored entry as sent")
                + " (a typo? the fields are "
                + ", ".join(sorted(known))
                + ")"
            )
            found.append(UnknownField(n, j, f"{where}.{name}", msg))
    return found


def unknown_in_transaction(value: Any, where: str) -> list[UnknownField]:
    """The fields of one transaction (a live one's body) that Masivo does not document."""
    if not isinstance(value, dict):
        return []
    return _unknown(value, TRANSACTION_FIELDS, 0, 0, where, "a transaction")


def decode_entry(raw: msgspec.Raw) -> Any:
    """An entry's generic decoding (exact decimals), for the general rules."""
    return _decode(raw)


def entry_text(raw: msgspec.Raw) -> str:
    """An entry as stored: its JSON text as sent."""
    return bytes(raw).decode()


def fulfilled_text(raw: msgspec.Raw) -> str:
    """An event that had no ``fulfilled`` member, as stored: its JSON text as sent, with
    ``"fulfilled": true`` added as its last member."""
    text = bytes(raw)
    assert text.endswith(b"}")  # an object (the common shape), as msgspec spans it
    return (text[:-1] + b',"fulfilled":true}').decode()


def plain_value(value: Any) -> Any:
    """An attribute value as the profile stores it: decimals become floats."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [plain_value(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_value(v) for k, v in value.items()}
    return value


def read_customers(body: bytes) -> MigrationSummary:
    """``POST /customers/migrate``."""
    customers = _customers(loads_strict(body))
    for index, customer in enumerate(customers):
        _customer_id(customer, f"customers[{index}]", index)
    return MigrationSummary(len(customers), 0)


def read_events(body: bytes) -> MigrationSummary:
    """``POST /customers/migrate/events``: every customer brings at least one event."""
    return _with_entries(loads_strict(body), "events", MAX_EVENTS, at_least_one=True)


def read_transactions(body: bytes) -> MigrationSummary:
    """``POST /customers/migrate/transactions``."""
    return _with_entries(loads_strict(body), "transactions", MAX_TRANSACTIONS, at_least_one=False)


def read_revert(body: bytes) -> MigrationSummary:
    """``DELETE /customers/migrate``: a list of customer ids."""
    customers = _customers(loads_strict(body))
    for index, value in enumerate(customers):
        _id_value(value, f"customers[{index}]", index)
    return MigrationSummary(len(customers), 0)


def _customers(body: Any) -> list[Any]:
    if not isinstance(body, dict):
        raise InvalidEnvelope("the body must be a JSON object", field="$")
    customers = body.get("customers")
    if not isinstance(customers, list):
        raise InvalidEnvelope("'customers' is required and must be a list", field="customers")
    if not customers:
        raise InvalidEnvelope("'customers' must not be empty", field="customers")
    if len(customers) > MAX_CUSTOMERS:
        msg = f"at most {MAX_CUSTOMERS} customers per batch, got {len(customers)}"
        raise TooManyElements(msg, field="customers")
    return customers


def _customer_id(customer: Any, where: str, index: int) -> None:
    if not isinstance(customer, dict):
        raise InvalidEnvelope(f"{where} must be an object", field=where, index=index)
    if "id" not in customer:
        raise InvalidEnvelope(f"{where}.id is required", field=f"{where}.id", index=index)
    _id_value(customer["id"], f"{where}.id", index)


def _id_value(value: Any, where: str, index: int) -> None:
    if not isinstance(value, str) or not usable_id(value):
        msg = f"{where} must be a non-blank string of at most {MAX_ID_LENGTH} characters"
        raise InvalidEnvelope(msg, field=where, index=index)


def _with_entries(body: Any, name: str, limit: int, *, at_least_one: bool) -> MigrationSummary:
    customers = _customers(body)
    total = 0
    for index, customer in enumerate(customers):
        where = f"customers[{index}]"
        _customer_id(customer, where, index)
        entries = customer.get(name)
        if not isinstance(entries, list):
            msg = f"{where}.{name} is required and must be a list"
            raise InvalidEnvelope(msg, field=f"{where}.{name}", index=index)
        if at_least_one and not entries:
            msg = f"each customer must have at least one of its {name}; {where} has none"
            raise InvalidEnvelope(msg, field=f"{where}.{name}", index=index)
        total += len(entries)
    if total > limit:
        msg = f"at most {limit} {name} in all per batch, got {total}"
        raise TooManyElements(msg, field=f"customers[].{name}")
    return MigrationSummary(len(customers), total)


def read_live_transaction(body: bytes) -> None:
    """``POST /v1/customers/{customer_id}/transactions``: one transaction object (what it
    says is checked by the worker, into the ledger)."""
    if not isinstance(loads_strict(body), dict):
        raise InvalidEnvelope("the body must be a JSON object (one transaction)", field="$")


def live_transaction_payload(customer_id: str, body: bytes) -> bytes:
    """The stored batch of a live transaction: the path's customer id and the body as sent."""
    return b'{"customer_id":' + _encode(customer_id) + b',"transaction":' + body + b"}"
