"""What a client may send the loyalty surface that once broke it (found in review): wrong types,
amounts at the edges of their limits, orderings that depend on grouping. Each entry gets its
outcome; no batch fails; amounts stay exact on both stores."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from test_masivo_migration import REWARD, customer, purchase, transaction

from roster_testkit import Harness

#: Below 1e18 with 18 decimals: 36 significant digits, within every documented limit.
AMT36 = "12345678901234567.000000000000000001"
#: 69 characters, 51 decimals: over the limit, though rounding to 28 digits would hide it.
LONG = "12345678901234567." + "0" * 50 + "1"


def raw(obj: Any, text: str) -> bytes:
    """``obj`` as JSON with the string ``"@@"`` replaced by the number ``text``."""
    return json.dumps(obj).replace('"@@"', text).encode()


@pytest.mark.parametrize("kind", [["ACCUMULATION"], {"a": 1}])
def test_a_transaction_type_that_is_a_list_or_object_fails_its_entry(
    roster: Harness, kind: Any
) -> None:
    """The bad set fails with invalid_field on its type; another customer's set applies."""
    t = roster.tenant()
    roster.migrate(
        t, "/customers/migrate", {"customers": [customer("bad", 10), customer("good", 10)]}
    )
    tx = {**transaction(10), "type": kind}
    body = {"customers": [{"id": "bad", "transactions": [tx]},
                          {"id": "good", "transactions": [transaction(10)]}]}  # fmt: skip
    b = roster.batch(t, roster.migrate(t, "/customers/migrate/transactions", body))
    assert b["status"] == "done"
    assert [(e["field"], e["code"]) for e in b["errors"]] == [
        ("customers[0].transactions[0].type", "invalid_field")
    ]
    assert b["counts"]["applied"] == 1
    live = roster.batch(t, roster.live_transaction(t, "good", {**transaction(1), "type": kind}))
    assert live["status"] == "done"
    assert [e["code"] for e in live["errors"]] == ["invalid_field"]


def test_reconciliation_is_exact_at_36_digits(roster: Harness) -> None:
    """A sum off by 1e-18 is refused; a set equal to an 18-decimal balance is accepted."""
    t = roster.tenant()
    roster.migrate(t, "/customers/migrate", {"customers": [customer("zero", 0)]})
    roster.migrate(t, "/customers/migrate", raw({"customers": [customer("big", "@@")]}, AMT36))
    off = {"customers": [{"id": "zero", "transactions": [
        transaction("@@"), transaction(-12345678901234567, "REDEMPTION")]}]}  # fmt: skip
    refused = roster.batch(t, roster.migrate(t, "/customers/migrate/transactions", raw(off, AMT36)))
    assert [e["code"] for e in refused["errors"]] == ["balance_mismatch"] * 2
    assert "delta -0.000000000000000001" in refused["errors"][0]["message"]
    exact = {"customers": [{"id": "big", "transactions": [transaction("@@")]}]}
    accepted = roster.batch(
        t, roster.migrate(t, "/customers/migrate/transactions", raw(exact, AMT36))
    )
    assert accepted["counts"]["applied"] == 1, accepted["errors"]


def test_a_live_balance_is_exact_at_36_digits(roster: Harness) -> None:
    """A live accrual of an 18-decimal amount leaves exactly that balance in the store."""
    t = roster.tenant()
    roster.migrate(t, "/customers/migrate", {"customers": [customer("c", 0)]})
    body = raw({"type": "ACCUMULATION", "reward_id": REWARD, "amount": "@@"}, AMT36)
    answer = roster.request(
        "POST", "/v1/customers/c/transactions", content=body, headers=t.json_auth
    )
    assert answer.status_code == 202
    roster.drain()
    with roster.db.read() as conn:
        (balance,) = conn.execute(sa.text("SELECT balance FROM wallets")).one()
    assert balance == AMT36


@pytest.mark.parametrize("where", ["balance", "order_value", "live"])
def test_an_amount_over_18_decimals_fails_its_entry_on_both_stores(
    roster: Harness, where: str
) -> None:
    """51 decimals (69 characters): that entry fails, the batch ends done, nothing is stored
    that one store would refuse."""
    t = roster.tenant()
    if where == "balance":
        batch_id = roster.migrate(
            t, "/customers/migrate", raw({"customers": [customer("c", "@@")]}, LONG)
        )
    else:
        roster.migrate(t, "/customers/migrate", {"customers": [customer("c", 0)]})
        if where == "order_value":
            events = {"customers": [{"id": "c", "events": [purchase("p", "@@")]}]}
            batch_id = roster.migrate(t, "/customers/migrate/events", raw(events, LONG))
        else:
            body = raw({"type": "ACCUMULATION", "reward_id": REWARD, "amount": "@@"}, LONG)
            answer = roster.request(
                "POST", "/v1/customers/c/transactions", content=body, headers=t.json_auth
            )
            roster.drain()
            batch_id = answer.json()["batch_id"]
    b = roster.batch(t, batch_id)
    assert b["status"] == "done"
    assert b["counts"]["failed"] == 1
    assert "decimal places" in b["errors"][0]["message"]


def test_an_empty_set_then_a_set_gives_one_outcome_grouped_or_not(roster: Harness) -> None:
    """An empty transaction set stores nothing, so the set after it is accepted whether the two
    are applied apart or together."""
    outcome = []
    for grouped in (False, True):
        t = roster.tenant(f"g{grouped}")
        roster.migrate(t, "/customers/migrate", {"customers": [customer("c", 0)]})
        empty = {"customers": [{"id": "c", "transactions": []}]}
        assert roster.masivo(t, "/customers/migrate/transactions", empty).status_code == 201
        if not grouped:
            roster.drain()
        txs = [transaction(10), transaction(-10, "REDEMPTION")]
        answer = roster.masivo(
            t, "/customers/migrate/transactions", {"customers": [{"id": "c", "transactions": txs}]}
        )
        roster.drain()
        outcome.append(roster.batch(t, answer.json()["batch_id"])["counts"])
    assert outcome == [{"total": 2, "applied": 2, "skipped": 0, "failed": 0}] * 2


def test_an_email_given_up_earlier_in_the_request_is_free(roster: Harness) -> None:
    """Customer a moves from x@ to z@; customer b may then take x@ in the same request."""
    t = roster.tenant()
    first = [customer("a", 1, email="x@e.com"), customer("b", 1, email="y@e.com")]
    roster.migrate(t, "/customers/migrate", {"customers": first})
    second = [customer("a", 1, email="z@e.com"), customer("b", 1, email="x@e.com")]
    b = roster.batch(t, roster.migrate(t, "/customers/migrate", {"customers": second}))
    assert b["errors"] == []
    found = roster.get("/v1/customers", t, params={"email": "x@e.com"}).json()
    assert found["customer_id"] == "b"


def test_events_for_a_customer_that_was_not_migrated_are_refused(roster: Harness) -> None:
    """A MoEngage customer gets no migrated events (no revert could remove them): not_migrated."""
    t = roster.tenant()
    roster.transition(t, [{"type": "customer", "customer_id": "moe", "attributes": {}}])
    roster.drain()
    body = {"customers": [{"id": "moe", "events": [purchase("p", 5)]}]}
    b = roster.batch(t, roster.migrate(t, "/customers/migrate/events", body))
    assert [e["code"] for e in b["errors"]] == ["not_migrated"]
    assert roster.events(t, "moe") == []
    profile = roster.customer(t, "moe")
    assert profile is not None
    assert profile["metrics"]["lifetime"]["number_of_purchases"] == 0


def test_members_a_body_does_not_use_are_ignored_whatever_they_hold(roster: Harness) -> None:
    """An events body whose customers also carry a malformed ``transactions`` member (and a
    transactions body with an ``events`` one) is accepted and applied: only its own entries
    are read."""
    tenant = roster.tenant()
    roster.migrate(tenant, "/customers/migrate", {"customers": [customer("m", 30)]})
    events = {"customers": [{"id": "m", "events": [purchase("o1", 5)], "transactions": 5}]}
    batch = roster.batch(tenant, roster.migrate(tenant, "/customers/migrate/events", events))
    assert batch["counts"] == {"total": 1, "applied": 1, "skipped": 0, "failed": 0}
    sent = {"id": "m", "transactions": [transaction(30)], "events": {"not": "a list"}}
    path = "/customers/migrate/transactions"
    batch = roster.batch(tenant, roster.migrate(tenant, path, {"customers": [sent]}))
    assert batch["counts"] == {"total": 1, "applied": 1, "skipped": 0, "failed": 0}
