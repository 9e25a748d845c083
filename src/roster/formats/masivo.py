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
from typing import Any, Generic, TypeVar

import msgspec

from roster.domain.element_rules import MAX_ID_LENGTH, usable_id
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
