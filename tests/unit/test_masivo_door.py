"""The Masivo migration door (SPEC §7): each batch rule refuses the whole body, naming the field
and the rule; the documented shapes pass."""

from __future__ import annotations

import json
from typing import Any

import pytest

from roster.domain.errors import InvalidEnvelope, MalformedBody, RequestRejected, TooManyElements
from roster.formats import masivo

CUSTOMER = {  # the fields of Masivo's OpenAPI example for POST /customers/migrate
    "id": "c-1",
    "name": "Ana Gómez",
    "email": "ana@example.com",
    "gender": "FEMALE",
    "dob": "1990-04-01",
    "registration_date": "2023-11-07T05:31:56Z",
    "document_type": "CC",
    "document_number": "1020304050",
    "country": "CO",
    "balance": [
        {
            "reward_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
            "amount": 1200,
            "expiration_date": "2025-11-07T05:31:56Z",
        }
    ],
    "metrics": {"lifetime": {"spend_total": 430.5, "number_of_purchases": 3}},
}
PURCHASE = {
    "type": "PURCHASE",
    "order": {"purchase_id": "o-1", "value": 120.5, "payment_method": "CASH"},
    "fulfilled": True,
    "issued_at": "2024-12-10T20:58:01.965Z",
    "resolved_at": "2024-12-10T20:58:01.965Z",
}
ACCUMULATION = {
    "type": "ACCUMULATION",
    "amount": 1200,
    "reward_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
    "issued_at": "2024-12-10T20:58:01.965Z",
    "resolved_at": "2024-12-10T20:58:01.965Z",
}


def _body(value: Any) -> bytes:
    return json.dumps(value).encode()


def _refused(read: Any, value: Any) -> RequestRejected:
    with pytest.raises(RequestRejected) as caught:
        read(_body(value))
    return caught.value


def test_the_documented_shapes_pass_and_are_counted() -> None:
    assert masivo.read_customers(_body({"customers": [CUSTOMER]})) == masivo.MigrationSummary(1, 0)
    events = {"customers": [{"id": "c-1", "events": [PURCHASE, PURCHASE]}]}
    assert masivo.read_events(_body(events)) == masivo.MigrationSummary(1, 2)
    txs = {"customers": [{"id": "c-1", "transactions": [ACCUMULATION]}]}
    assert masivo.read_transactions(_body(txs)) == masivo.MigrationSummary(1, 1)
    assert masivo.read_revert(_body({"customers": ["c-1", "c-2"]})) == masivo.MigrationSummary(2, 0)


def test_at_most_1000_customers_per_batch() -> None:
    many = [{**CUSTOMER, "id": f"c-{n}"} for n in range(1000)]
    assert masivo.read_customers(_body({"customers": many})).customers == 1000
    refused = _refused(masivo.read_customers, {"customers": [*many, {**CUSTOMER, "id": "x"}]})
    assert isinstance(refused, TooManyElements)
    assert (refused.field, "1000 customers" in refused.message) == ("customers", True)
    ids = [f"c-{n}" for n in range(1001)]
    assert isinstance(_refused(masivo.read_revert, {"customers": ids}), TooManyElements)


def test_at_most_1000_events_in_all_and_at_least_one_per_customer() -> None:
    split = [{"id": f"c-{n}", "events": [PURCHASE] * 250} for n in range(4)]
    assert masivo.read_events(_body({"customers": split})).entries == 1000
    over = [*split, {"id": "c-5", "events": [PURCHASE]}]
    refused = _refused(masivo.read_events, {"customers": over})
    assert isinstance(refused, TooManyElements)
    assert refused.field == "customers[].events"
    assert "1001" in refused.message
    empty = [{"id": "c-1", "events": [PURCHASE]}, {"id": "c-2", "events": []}]
    refused = _refused(masivo.read_events, {"customers": empty})
    assert isinstance(refused, InvalidEnvelope)
    assert (refused.field, refused.index) == ("customers[1].events", 1)
    assert "at least one" in refused.message


def test_at_most_1000_transactions_in_all() -> None:
    split = [{"id": f"c-{n}", "transactions": [ACCUMULATION] * 500} for n in range(2)]
    assert masivo.read_transactions(_body({"customers": split})).entries == 1000
    over = [*split, {"id": "c-3", "transactions": [ACCUMULATION]}]
    refused = _refused(masivo.read_transactions, {"customers": over})
    assert isinstance(refused, TooManyElements)
    assert refused.field == "customers[].transactions"


@pytest.mark.parametrize(
    ("read", "value", "field"),
    [
        (masivo.read_customers, [CUSTOMER], "$"),
        (masivo.read_customers, {}, "customers"),
        (masivo.read_customers, {"customers": {}}, "customers"),
        (masivo.read_customers, {"customers": []}, "customers"),
        (masivo.read_customers, {"customers": ["c-1"]}, "customers[0]"),
        (masivo.read_customers, {"customers": [{"name": "no id"}]}, "customers[0].id"),
        (masivo.read_customers, {"customers": [{"id": 7}]}, "customers[0].id"),
        (masivo.read_customers, {"customers": [CUSTOMER, {"id": " "}]}, "customers[1].id"),
        (masivo.read_customers, {"customers": [{"id": "x" * 256}]}, "customers[0].id"),
        (masivo.read_events, {"customers": [{"id": "c-1"}]}, "customers[0].events"),
        (masivo.read_events, {"customers": [{"id": "c-1", "events": {}}]}, "customers[0].events"),
        (masivo.read_transactions, {"customers": [{"id": "c-1"}]}, "customers[0].transactions"),
        (masivo.read_revert, {"customers": [{"id": "c-1"}]}, "customers[0]"),
        (masivo.read_revert, {"customers": ["c-1", ""]}, "customers[1]"),
    ],
)
def test_a_wrong_envelope_is_refused_naming_the_field(read: Any, value: Any, field: str) -> None:
    refused = _refused(read, value)
    assert isinstance(refused, InvalidEnvelope)
    assert refused.field == field
    assert refused.message


def test_a_malformed_body_is_refused_before_any_rule() -> None:
    for read in (masivo.read_customers, masivo.read_events, masivo.read_revert):
        with pytest.raises(MalformedBody):
            read(b'{"customers": [')
        with pytest.raises(MalformedBody):  # duplicate keys are not strict JSON
            read(b'{"customers": [], "customers": ["c-1"]}')
