"""The Masivo loyalty migration (SPEC §7, issue 3): customers, events, transactions, revert."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from roster.services.admin import workspace_admin
from roster.store.schema import batch_payloads
from roster_testkit import Harness, Tenant, basic

REWARD = "3f0c8a52-9c1e-4a57-9d43-6f0e3d0b2a11"
OTHER_REWARD = "8b7e2f8d-1f1b-4c55-8a8e-0d6a3c6e9b42"
OWNED_TABLES = ("events", "wallet_transactions", "wallets", "devices", "customer_identifiers")


def customer(cid: str, points: Any = 1200, **fields: Any) -> dict[str, Any]:
    """A customer as Masivo's docs show one, with an opening balance of ``points``."""
    return {
        "id": cid,
        "name": "Ada Lovelace",
        "email": f"{cid}@example.com",
        "gender": "FEMALE",
        "dob": "1990-12-10",
        "registration_date": "2023-11-07T05:31:56Z",
        "document_type": "PASSPORT",
        "document_number": "X1234567",
        "country": "MX",
        "balance": [
            {"reward_id": REWARD, "amount": points, "expiration_date": "2027-12-31T00:00:00Z"}
        ],
        **fields,
    }


def purchase(pid: str, value: Any, issued_at: str = "2024-12-10T20:58:01.965Z") -> dict[str, Any]:
    return {
        "type": "PURCHASE",
        "order": {"purchase_id": pid, "value": value, "payment_method": "CREDIT", "products": []},
        "fulfilled": True,
        "issued_at": issued_at,
        "resolved_at": issued_at,
    }


def transaction(amount: Any, kind: str = "ACCUMULATION", reward: str = REWARD) -> dict[str, Any]:
    return {
        "type": kind,
        "amount": amount,
        "reward_id": reward,
        "issued_at": "2024-01-01T00:00:00Z",
        "resolved_at": "2024-01-01T00:00:00Z",
        "details": "migrated history",
    }


def wallet(roster: Harness, tenant: Tenant, cid: str) -> dict[str, Any]:
    profile = roster.customer(tenant, cid)
    assert profile is not None
    return {w["reward_id"]: w["balance"] for w in profile["wallet"]}


def transactions(roster: Harness, tenant: Tenant, cid: str) -> list[dict[str, Any]]:
    response = roster.get(f"/v1/customers/{cid}/transactions", tenant)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["transactions"]
    return found


def owned_rows(roster: Harness, uid: int) -> dict[str, int]:
    with roster.db.read() as conn:
        return {
            table: conn.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE uid = :uid"), {"uid": uid}
            ).scalar_one()
            for table in (*OWNED_TABLES, "customers")
        }


def orphans(roster: Harness) -> dict[str, int]:
    """Rows of every table a customer owns whose customer does not exist."""
    with roster.db.read() as conn:
        return {
            table: conn.execute(
                sa.text(
                    f"SELECT count(*) FROM {table} t WHERE NOT EXISTS "
                    "(SELECT 1 FROM customers c WHERE c.uid = t.uid)"
                )
            ).scalar_one()
            for table in OWNED_TABLES
        }


# --- the door --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/customers/migrate",
            {"customers": [customer(f"c{i}") for i in range(1001)]},
            "customers",
        ),
        (
            "/customers/migrate/events",
            {"customers": [{"id": "c", "events": [purchase(f"p{i}", 1) for i in range(1001)]}]},
            "customers[].events",
        ),
        (
            "/customers/migrate/events",
            {"customers": [{"id": "a", "events": [purchase("p", 1)]}, {"id": "b", "events": []}]},
            "customers[1].events",
        ),
        (
            "/customers/migrate/transactions",
            {
                "customers": [
                    {"id": f"c{n}", "transactions": [transaction(1) for _ in range(501)]}
                    for n in range(2)
                ]
            },
            "customers[].transactions",
        ),
    ],
    ids=["1001-customers", "1001-events", "customer-without-events", "1002-transactions"],
)
def test_a_batch_over_a_rule_is_422_and_stores_nothing(
    roster: Harness, path: str, body: dict[str, Any], field: str
) -> None:
    """Over 1000 customers, events in all or transactions in all, or a customer without
    events: 422 {"error", "details"} naming the field, and no batch stored."""
    tenant = roster.tenant()
    response = roster.masivo(tenant, path, body)
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["error"] in ("too_many_elements", "invalid_envelope")
    assert answer["details"]
    assert answer["field"] == field
    assert roster.stored_batches() == 0


def test_a_malformed_body_is_422_in_the_vendors_shape(roster: Harness) -> None:
    """Broken JSON or duplicate keys: 422 with error and details; nothing stored."""
    tenant = roster.tenant()
    for body in (b'{"customers": [', b'{"customers": [], "customers": []}'):
        response = roster.masivo(tenant, "/customers/migrate", body)
        assert response.status_code == 422, response.text
        assert set(response.json()) >= {"error", "details"}
        assert response.json()["error"] == "malformed_json"
    assert roster.stored_batches() == 0


def test_every_credential_form_is_accepted_and_a_bad_key_is_401(roster: Harness) -> None:
    """Bearer (the vendor's), Basic id:key and Basic key: all enqueue; a wrong key is 401."""
    tenant = roster.tenant()
    body = {"customers": [customer("cred")]}
    forms = [
        f"Bearer {tenant.key}",
        basic(tenant.id, tenant.key),
        "Basic " + base64.b64encode(f"{tenant.key}:".encode()).decode(),
    ]
    for auth in forms:
        response = roster.masivo(tenant, "/customers/migrate", body, Authorization=auth)
        assert response.status_code == 201, response.text
    wrong = roster.masivo(tenant, "/customers/migrate", body, Authorization="Bearer nope")
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "authentication_failed"


# --- customers ------------------------------------------------------------------------------


def test_a_migrated_customer_has_its_profile_and_opening_balance(roster: Harness) -> None:
    """The docs' customer becomes a migrated profile with its wallet of 1,200 points."""
    tenant = roster.tenant()
    batch_id = roster.migrate(tenant, "/customers/migrate", {"customers": [customer("ada")]})
    batch = roster.batch(tenant, batch_id)
    assert batch["status"] == "done"
    assert batch["kind"] == "masivo.customers"
    assert batch["counts"] == {"total": 1, "applied": 1, "skipped": 0, "failed": 0}
    profile = roster.customer(tenant, "ada")
    assert profile is not None
    assert profile["migrated"] is True
    assert profile["migrated_only"] is True
    assert profile["migrated_batch"] == batch_id
    assert profile["attributes"]["email"] == "ada@example.com"
    assert profile["attributes"]["registration_date"] == "2023-11-07T05:31:56Z"
    assert "balance" not in profile["attributes"]
    assert profile["wallet"] == [
        {
            "reward_id": REWARD,
            "balance": 1200,
            "opening_balance": 1200,
            "details": customer("ada")["balance"][0],
            "updated_at": profile["wallet"][0]["updated_at"],
        }
    ]
    found = roster.get("/v1/customers", tenant, params={"email": "ADA@example.com"})
    assert found.json()["customer_id"] == "ada"


def test_an_email_is_unique_in_the_workspace(roster: Harness) -> None:
    """A second customer with a taken email fails email_taken naming the holder; in the same
    batch too."""
    tenant = roster.tenant()
    roster.migrate(tenant, "/customers/migrate", {"customers": [customer("first")]})
    body = {
        "customers": [
            customer("second", email="First@example.com"),
            customer("third", email="shared@example.com"),
            customer("fourth", email="shared@example.com"),
        ]
    }
    batch = roster.batch(tenant, roster.migrate(tenant, "/customers/migrate", body))
    assert batch["counts"] == {"total": 3, "applied": 1, "skipped": 0, "failed": 2}
    errors = [(e["index"], e["key"], e["field"], e["code"]) for e in batch["errors"]]
    assert errors == [
        (0, "second", "customers[0].email", "email_taken"),
        (2, "fourth", "customers[2].email", "email_taken"),
    ]
    assert "'first'" in batch["errors"][0]["message"]
    assert roster.customer(tenant, "second") is None
    assert roster.customer(tenant, "third") is not None


def test_a_migration_updates_a_migrated_only_customer_and_never_a_live_one(
    roster: Harness,
) -> None:
    """Migrating again updates a customer only the migration wrote; once MoEngage changed it
    (or it came from MoEngage), the migration skips it with not_migrated_only."""
    tenant = roster.tenant()
    roster.migrate(tenant, "/customers/migrate", {"customers": [customer("mig")]})
    roster.migrate(
        tenant, "/customers/migrate", {"customers": [customer("mig", 300, name="Ada L.")]}
    )
    profile = roster.customer(tenant, "mig")
    assert profile is not None
    assert profile["attributes"]["name"] == "Ada L."
    assert wallet(roster, tenant, "mig") == {REWARD: 300}
    roster.transition(
        tenant, [{"type": "customer", "customer_id": "mig", "attributes": {"vip": True}}]
    )
    roster.transition(tenant, [{"type": "customer", "customer_id": "live", "attributes": {}}])
    roster.drain()
    body = {"customers": [customer("mig", 5, name="Overwritten"), customer("live")]}
    batch = roster.batch(tenant, roster.migrate(tenant, "/customers/migrate", body))
    assert [(w["index"], w["code"]) for w in batch["warnings"]] == [
        (0, "not_migrated_only"),
        (1, "not_migrated_only"),
    ]
    assert batch["counts"]["skipped"] == 2
    after = roster.customer(tenant, "mig")
    assert after is not None
    assert after["attributes"]["name"] == "Ada L."
    assert after["migrated_only"] is False
    assert wallet(roster, tenant, "mig") == {REWARD: 300}
    live = roster.customer(tenant, "live")
    assert live is not None
    assert live["migrated"] is False
    assert live["wallet"] == []


def test_a_bad_balance_fails_only_its_customer(roster: Harness) -> None:
    """A negative or non-numeric amount, or a reward twice, fails that customer, naming the
    field; the others are migrated."""
    tenant = roster.tenant()
    twice = customer("twice")
    twice["balance"].append({"reward_id": REWARD, "amount": 1})
    body = {"customers": [customer("neg", -5), customer("text", "lots"), twice, customer("ok")]}
    batch = roster.batch(tenant, roster.migrate(tenant, "/customers/migrate", body))
    assert batch["counts"] == {"total": 4, "applied": 1, "skipped": 0, "failed": 3}
    assert [(e["key"], e["field"]) for e in batch["errors"]] == [
        ("neg", "customers[0].balance[0].amount"),
        ("text", "customers[1].balance[0].amount"),
        ("twice", "customers[2].balance[1].reward_id"),
    ]
    assert roster.customer(tenant, "neg") is None
    assert wallet(roster, tenant, "ok") == {REWARD: 1200}


def test_fields_roster_owns_cannot_be_set_by_a_migration(roster: Harness) -> None:
    """uid, tier, migrated and the wallet's balance are not attributes a migration can set."""
    tenant = roster.tenant()
    sent = customer("owned", uid=1, tier="Gold", migrated=False, wallet=[{"balance": 9}])
    roster.migrate(tenant, "/customers/migrate", {"customers": [sent]})
    profile = roster.customer(tenant, "owned")
    assert profile is not None
    assert not {"uid", "tier", "migrated", "wallet"} & set(profile["attributes"])
    assert profile["tier"] is None
    assert profile["migrated"] is True
    assert wallet(roster, tenant, "owned") == {REWARD: 1200}


# --- transactions ---------------------------------------------------------------------------


def test_transactions_must_add_up_to_the_migrated_balance(roster: Harness) -> None:
    """A set summing to 1,150 against 1,200 is refused with the delta of 50; a set summing to
    1,200 is accepted; the wallet stays 1,200 either way; a second set is refused."""
    tenant = roster.tenant()
    roster.migrate(tenant, "/customers/migrate", {"customers": [customer("ada")]})
    short = {"customers": [{"id": "ada", "transactions": [transaction(1500), transaction(-350)]}]}
    refused = roster.batch(tenant, roster.migrate(tenant, "/customers/migrate/transactions", short))
    assert refused["counts"] == {"total": 2, "applied": 0, "skipped": 0, "failed": 2}
    assert {e["code"] for e in refused["errors"]} == {"balance_mismatch"}
    message = refused["errors"][0]["message"]
    assert REWARD in message
    assert "balance 1200" in message
    assert "sum to 1150" in message
    assert "delta 50" in message
    assert wallet(roster, tenant, "ada") == {REWARD: 1200}
    assert transactions(roster, tenant, "ada") == []

    exact = {
        "customers": [
            {
                "id": "ada",
                "transactions": [
                    transaction(1000, "MIGRATION"),
                    transaction(450.5),
                    transaction(-250.5, "REDEMPTION"),
                ],
            }
        ]
    }
    accepted = roster.batch(
        tenant, roster.migrate(tenant, "/customers/migrate/transactions", exact)
    )
    assert accepted["counts"] == {"total": 3, "applied": 3, "skipped": 0, "failed": 0}
    assert wallet(roster, tenant, "ada") == {REWARD: 1200}
    stored = transactions(roster, tenant, "ada")
    assert sorted(t["amount"] for t in stored) == [-250.5, 450.5, 1000]
    assert all(t["live"] is False for t in stored)

    again = roster.batch(tenant, roster.migrate(tenant, "/customers/migrate/transactions", exact))
    assert {e["code"] for e in again["errors"]} == {"transactions_already_migrated"}
    assert len(transactions(roster, tenant, "ada")) == 3


def test_decimal_amounts_reconcile_exactly(roster: Harness) -> None:
    """0.1 + 0.2 equals a balance of 0.3: amounts are added as decimals, never as floats."""
    tenant = roster.tenant()
    roster.migrate(tenant, "/customers/migrate", {"customers": [customer("dec", 0.3)]})
    body = {"customers": [{"id": "dec", "transactions": [transaction(0.1), transaction(0.2)]}]}
    batch = roster.batch(tenant, roster.migrate(tenant, "/customers/migrate/transactions", body))
    assert batch["counts"]["applied"] == 2, batch


def test_every_reward_must_reconcile_and_others_in_the_batch_go_on(roster: Harness) -> None:
    """A transaction for a reward with no balance makes the set mismatch (expected 0); an
    invalid transaction refuses its whole set; another customer's set applies; unknown and
    non-migrated customers are refused by name."""
    tenant = roster.tenant()
    roster.migrate(
        tenant, "/customers/migrate", {"customers": [customer("a"), customer("b"), customer("c")]}
    )
    roster.transition(tenant, [{"type": "customer", "customer_id": "moe", "attributes": {}}])
    roster.drain()
    body = {
        "customers": [
            {"id": "a", "transactions": [transaction(1200), transaction(10, reward=OTHER_REWARD)]},
            {"id": "b", "transactions": [transaction(1200), transaction(5, kind="GIFT")]},
            {"id": "c", "transactions": [transaction(1200)]},
            {"id": "ghost", "transactions": [transaction(1)]},
            {"id": "moe", "transactions": [transaction(1)]},
        ]
    }
    batch = roster.batch(tenant, roster.migrate(tenant, "/customers/migrate/transactions", body))
    assert batch["counts"] == {"total": 7, "applied": 1, "skipped": 0, "failed": 6}
    codes = [(e["index"], e["key"], e["code"]) for e in batch["errors"]]
    assert codes == [
        (0, "a", "balance_mismatch"),
        (1, "a", "balance_mismatch"),
        (2, "b", "transactions_refused"),
        (3, "b", "invalid_field"),
        (5, "ghost", "unknown_customer"),
        (6, "moe", "not_migrated"),
    ]
    assert OTHER_REWARD in batch["errors"][0]["message"]
    assert batch["errors"][3]["field"] == "customers[1].transactions[1].type"
    assert len(transactions(roster, tenant, "c")) == 1


# --- events, metrics and tiers --------------------------------------------------------------


def test_purchases_over_two_batches_count_once_and_set_the_tier(roster: Harness) -> None:
    """Purchases in two batches, one sent twice: metrics count it once; a non-PURCHASE event
    moves nothing; the tier follows the thresholds on lifetime spend."""
    tenant = roster.tenant()
    response = roster.request(
        "PUT",
        "/v1/workspace/tiers",
        json={
            "tiers": [
                {"name": "Gold", "threshold": 2000},
                {"name": "Bronze", "threshold": 0},
                {"name": "Silver", "threshold": 500},
            ]
        },
        headers=tenant.auth,
    )
    assert response.status_code == 200, response.text
    assert [t["name"] for t in response.json()["tiers"]] == ["Bronze", "Silver", "Gold"]
    roster.migrate(tenant, "/customers/migrate", {"customers": [customer("buyer")]})
    first = {
        "customers": [{"id": "buyer", "events": [purchase("o-1", 300), purchase("o-2", 150.25)]}]
    }
    roster.migrate(tenant, "/customers/migrate/events", first)
    profile = roster.customer(tenant, "buyer")
    assert profile is not None
    assert profile["metrics"]["lifetime"]["spend_total"] == 450.25
    assert profile["tier"] == "Bronze"

    visit = {"type": "STORE_VISIT", "issued_at": "2024-12-11T10:00:00Z", "order": {"value": 9999}}
    second = {
        "customers": [
            {"id": "buyer", "events": [purchase("o-2", 150.25), purchase("o-3", 100), visit]}
        ]
    }
    batch = roster.batch(tenant, roster.migrate(tenant, "/customers/migrate/events", second))
    assert batch["counts"] == {"total": 3, "applied": 2, "skipped": 1, "failed": 0}
    assert [(w["index"], w["code"]) for w in batch["warnings"]] == [(0, "duplicate_ignored")]
    profile = roster.customer(tenant, "buyer")
    assert profile is not None
    lifetime = profile["metrics"]["lifetime"]
    assert lifetime == {
        "spend_total": 550.25,
        "number_of_purchases": 3,
        "last_purchase_at": "2024-12-10T20:58:01.965Z",
    }
    assert profile["metrics"]["source"] == "events"
    assert profile["tier"] == "Silver"
    names = sorted(e["name"] for e in roster.events(tenant, "buyer"))
    assert names == ["PURCHASE", "PURCHASE", "PURCHASE", "STORE_VISIT"]
    for event in roster.events(tenant, "buyer"):
        assert event["migrated"] is True
        assert event["can_trigger"] is False
        assert event["attributes"]["fulfilled"] is True


def test_metrics_periods_are_calendar_periods_in_utc(roster: Harness) -> None:
    """A purchase now is in this month, quarter and year; one of mid-January last year only in
    last year (and lifetime)."""
    tenant = roster.tenant()
    roster.migrate(tenant, "/customers/migrate", {"customers": [customer("p")]})
    now = datetime.now(UTC)
    old = datetime(now.year - 1, 1, 15, 12, tzinfo=UTC).isoformat()
    recent = purchase("now", 10, now.isoformat())
    body = {"customers": [{"id": "p", "events": [recent, purchase("old", 5, old)]}]}
    roster.migrate(tenant, "/customers/migrate/events", body)
    profile = roster.customer(tenant, "p")
    assert profile is not None
    spend = {name: m["spend_total"] for name, m in profile["metrics"].items() if name != "source"}
    assert spend == {
        "lifetime": 15,
        "this_month": 10,
        "last_month": 0,
        "this_quarter": 10,
        "last_quarter": 0,
        "this_year": 10,
        "last_year": 5,
    }
    assert profile["metrics"]["last_year"]["last_purchase_at"] == old.replace("+00:00", ".000Z")


def test_sent_metrics_are_kept_until_the_customers_events_come(roster: Harness) -> None:
    """Precomputed metrics are shown as sent (and set the tier) until events are migrated."""
    tenant = roster.tenant()
    workspace_admin.set_tiers(roster.db, tenant.id, [("Bronze", 0), ("Gold", 2000)])
    sent = {
        "lifetime": {"spend_total": 2500, "number_of_purchases": 12},
        "updated_at": "2024-01-01",
    }
    roster.migrate(tenant, "/customers/migrate", {"customers": [customer("pre", metrics=sent)]})
    profile = roster.customer(tenant, "pre")
    assert profile is not None
    assert profile["metrics"] == {**sent, "source": "migration"}
    assert profile["tier"] == "Gold"
    body = {"customers": [{"id": "pre", "events": [purchase("x", 40)]}]}
    roster.migrate(tenant, "/customers/migrate/events", body)
    profile = roster.customer(tenant, "pre")
    assert profile is not None
    assert profile["metrics"]["source"] == "events"
    assert profile["metrics"]["lifetime"]["spend_total"] == 40
    assert profile["tier"] == "Bronze"


def test_bad_events_fail_alone_and_unknown_customers_are_named(roster: Harness) -> None:
    """A PURCHASE without purchase_id or value, a bad time, an unknown customer: each event
    fails with its field; the rest are stored."""
    tenant = roster.tenant()
    roster.migrate(tenant, "/customers/migrate", {"customers": [customer("e")]})
    no_id = purchase("x", 1)
    del no_id["order"]["purchase_id"]
    no_value = purchase("y", 1)
    del no_value["order"]["value"]
    body = {
        "customers": [
            {"id": "e", "events": [no_id, no_value, purchase("z", 1, "2999-01-01T00:00:00Z"),
                                   purchase("ok", 1)]},
            {"id": "nobody", "events": [purchase("n", 1)]},
        ]
    }  # fmt: skip
    batch = roster.batch(tenant, roster.migrate(tenant, "/customers/migrate/events", body))
    assert batch["counts"] == {"total": 5, "applied": 1, "skipped": 0, "failed": 4}
    assert [(e["index"], e["field"], e["code"]) for e in batch["errors"]] == [
        (0, "customers[0].events[0].order.purchase_id", "missing_field"),
        (1, "customers[0].events[1].order.value", "missing_field"),
        (2, "customers[0].events[2].issued_at", "invalid_timestamp"),
        (4, "customers[1].id", "unknown_customer"),
    ]
    assert len(roster.events(tenant, "e")) == 1


def test_set_tiers_refuses_bad_rules(roster: Harness) -> None:
    """Duplicate names or thresholds and negative thresholds are refused, naming the field."""
    tenant = roster.tenant()
    for tiers in (
        [{"name": "A", "threshold": 0}, {"name": "A", "threshold": 5}],
        [{"name": "A", "threshold": 0}, {"name": "B", "threshold": 0}],
        [{"name": "A", "threshold": -1}],
    ):
        response = roster.request(
            "PUT", "/v1/workspace/tiers", json={"tiers": tiers}, headers=tenant.auth
        )
        assert response.status_code in (400, 422), response.text
        assert "tiers" in (response.json()["error"]["field"] or "")


# --- live transactions and revert -----------------------------------------------------------


def test_a_live_transaction_changes_the_balance(roster: Harness) -> None:
    """An accrual and a redemption change the wallet; one past the balance fails
    insufficient_balance; an unknown customer fails; a new reward opens at 0."""
    tenant = roster.tenant()
    roster.migrate(tenant, "/customers/migrate", {"customers": [customer("live")]})
    roster.live_transaction(tenant, "live", transaction(100))
    roster.live_transaction(tenant, "live", transaction(-300, "REDEMPTION"))
    too_much = roster.batch(
        tenant, roster.live_transaction(tenant, "live", transaction(-5000, "REDEMPTION"))
    )
    assert [e["code"] for e in too_much["errors"]] == ["insufficient_balance"]
    roster.live_transaction(tenant, "live", transaction(7, reward=OTHER_REWARD))
    assert wallet(roster, tenant, "live") == {REWARD: 1000, OTHER_REWARD: 7}
    ghost = roster.batch(tenant, roster.live_transaction(tenant, "ghost", transaction(1)))
    assert [e["code"] for e in ghost["errors"]] == ["unknown_customer"]
    live = [t for t in transactions(roster, tenant, "live") if t["live"]]
    assert len(live) == 3


def test_revert_removes_a_migrated_customer_completely(roster: Harness) -> None:
    """A migrated customer with events, transactions and a device is gone with every row it
    owned; its id can be migrated again from scratch, with a new uid."""
    tenant = roster.tenant()
    roster.migrate(
        tenant, "/customers/migrate", {"customers": [customer("gone"), customer("stay")]}
    )
    events = {"customers": [{"id": "gone", "events": [purchase("g-1", 10)]},
                            {"id": "stay", "events": [purchase("s-1", 10)]}]}  # fmt: skip
    roster.migrate(tenant, "/customers/migrate/events", events)
    roster.migrate(
        tenant,
        "/customers/migrate/transactions",
        {"customers": [{"id": "gone", "transactions": [transaction(1200)]}]},
    )
    device = {"type": "device", "customer_id": "gone", "device_id": "d-1",
              "attributes": {"platform": "ANDROID", "push_id": "tok"}}  # fmt: skip
    roster.transition(tenant, [device])
    roster.drain()
    before = roster.customer(tenant, "gone")
    assert before is not None
    uid = before["uid"]
    assert all(n > 0 for n in owned_rows(roster, uid).values()), owned_rows(roster, uid)

    batch_id = roster.migrate(
        tenant, "/customers/migrate", {"customers": ["gone", "ghost"]}, method="DELETE"
    )
    batch = roster.batch(tenant, batch_id)
    assert batch["kind"] == "masivo.revert"
    assert batch["counts"] == {"total": 2, "applied": 1, "skipped": 1, "failed": 0}
    assert [(w["key"], w["code"]) for w in batch["warnings"]] == [("ghost", "unknown_customer")]
    assert roster.customer(tenant, "gone") is None
    assert set(owned_rows(roster, uid).values()) == {0}
    assert orphans(roster) == dict.fromkeys(OWNED_TABLES, 0)
    assert roster.customer(tenant, "stay") is not None
    assert len(roster.events(tenant, "stay")) == 1

    roster.migrate(tenant, "/customers/migrate", {"customers": [customer("gone", 5)]})
    again = roster.customer(tenant, "gone")
    assert again is not None
    assert again["uid"] != uid
    assert wallet(roster, tenant, "gone") == {REWARD: 5}
    roster.migrate(tenant, "/customers/migrate/events", events)  # its purchase ids are free
    assert len(roster.events(tenant, "gone")) == 1


def test_revert_leaves_live_and_non_migrated_customers_intact(roster: Harness) -> None:
    """A customer with a live transaction since its migration: has_new_transactions; one from
    MoEngage: not_migrated; both untouched."""
    tenant = roster.tenant()
    roster.migrate(tenant, "/customers/migrate", {"customers": [customer("spent")]})
    roster.live_transaction(tenant, "spent", transaction(-200, "REDEMPTION"))
    roster.transition(tenant, [{"type": "customer", "customer_id": "moe", "attributes": {}}])
    roster.drain()
    batch_id = roster.migrate(
        tenant, "/customers/migrate", {"customers": ["spent", "moe", "spent"]}, method="DELETE"
    )
    batch = roster.batch(tenant, batch_id)
    assert batch["counts"] == {"total": 3, "applied": 0, "skipped": 3, "failed": 0}
    assert [(w["key"], w["code"]) for w in batch["warnings"]] == [
        ("spent", "has_new_transactions"),
        ("moe", "not_migrated"),
        ("spent", "duplicate_ignored"),
    ]
    assert wallet(roster, tenant, "spent") == {REWARD: 1000}
    assert len(transactions(roster, tenant, "spent")) == 1
    assert roster.customer(tenant, "moe") is not None


def test_a_revert_and_a_live_transaction_apply_in_accept_order(roster: Harness) -> None:
    """Accepted before the revert, the live transaction blocks it; accepted after, it finds no
    customer. Either way no customer is half deleted."""
    tenant = roster.tenant()
    roster.migrate(tenant, "/customers/migrate", {"customers": [customer("x"), customer("y")]})
    tx = {"Content-Type": "application/json", **tenant.auth}
    revert = {"customers": ["x", "y"]}
    first = roster.request("POST", "/v1/customers/x/transactions", json=transaction(1), headers=tx)
    assert first.status_code == 202
    assert roster.masivo(tenant, "/customers/migrate", revert, method="DELETE").status_code == 201
    late = roster.request("POST", "/v1/customers/y/transactions", json=transaction(1), headers=tx)
    roster.drain()
    assert roster.customer(tenant, "x") is not None
    assert wallet(roster, tenant, "x") == {REWARD: 1201}
    assert roster.customer(tenant, "y") is None
    late_batch = roster.batch(tenant, late.json()["batch_id"])
    assert [e["code"] for e in late_batch["errors"]] == ["unknown_customer"]
    assert orphans(roster) == dict.fromkeys(OWNED_TABLES, 0)


def test_a_balance_justified_by_transactions_is_kept_on_a_new_migration(roster: Harness) -> None:
    """Once its transactions are migrated, migrating the customer again keeps its wallet (with
    balance_kept), also when it had no balance at all; the profile fields still update."""
    tenant = roster.tenant()
    body = {"customers": [customer("kept"), {"id": "empty", "name": "E"}]}
    roster.migrate(tenant, "/customers/migrate", body)
    history = {
        "customers": [
            {"id": "kept", "transactions": [transaction(1200)]},
            {"id": "empty", "transactions": [transaction(0)]},
        ]
    }
    roster.migrate(tenant, "/customers/migrate/transactions", history)
    again = {"customers": [customer("kept", 99, name="New"), customer("empty", 5)]}
    batch = roster.batch(tenant, roster.migrate(tenant, "/customers/migrate", again))
    assert batch["counts"]["applied"] == 2
    assert [(w["key"], w["code"]) for w in batch["warnings"]] == [
        ("kept", "balance_kept"),
        ("empty", "balance_kept"),
    ]
    assert wallet(roster, tenant, "kept") == {REWARD: 1200}
    assert wallet(roster, tenant, "empty") == {}
    profile = roster.customer(tenant, "kept")
    assert profile is not None
    assert profile["attributes"]["name"] == "New"


def test_roster_workspace_set_tiers_sets_and_refuses(roster: Harness) -> None:
    """`roster workspace set-tiers ID Bronze=0 Silver=500 Gold=2000` sets the tiers the API
    shows; a malformed or duplicate rule exits 2 with the reason and changes nothing."""
    tenant = roster.tenant()
    env = {**os.environ, "ROSTER_DATABASE_URL": roster.container.settings.database_url}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "roster", "workspace", "set-tiers", tenant.id, *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    done = cli("Bronze=0", "Silver=500", "Gold=2000", "--json")
    assert done.returncode == 0, done.stderr
    expected = [
        {"name": "Bronze", "threshold": 0},
        {"name": "Silver", "threshold": 500},
        {"name": "Gold", "threshold": 2000},
    ]
    assert json.loads(done.stdout)["tiers"] == expected
    for bad in (["Silver"], ["A=1", "A=2"]):
        refused = cli(*bad)
        assert refused.returncode == 2
        assert "error:" in refused.stderr
    assert roster.get("/v1/workspace", tenant).json()["tiers"] == expected


def test_an_empty_transaction_set_is_checked_against_the_balance(roster: Harness) -> None:
    """A customer sent with no transactions has no element; a balance they cannot justify is
    still reported (balance_mismatch, as a warning) and nothing is stored."""
    tenant = roster.tenant()
    roster.migrate(
        tenant, "/customers/migrate", {"customers": [customer("none"), customer("zero", 0)]}
    )
    body = {"customers": [{"id": "none", "transactions": []}, {"id": "zero", "transactions": []}]}
    batch = roster.batch(tenant, roster.migrate(tenant, "/customers/migrate/transactions", body))
    assert batch["counts"] == {"total": 0, "applied": 0, "skipped": 0, "failed": 0}
    assert [(w["index"], w["key"], w["code"]) for w in batch["warnings"]] == [
        (0, "none", "balance_mismatch")
    ]
    assert transactions(roster, tenant, "none") == []


def test_batches_applied_together_still_see_each_other(roster: Harness) -> None:
    """Events and transaction batches queued back to back are applied as one group: a purchase
    repeated across them is stored once (naming the first batch), and a customer's second set
    of transactions is refused."""
    tenant = roster.tenant()
    roster.migrate(tenant, "/customers/migrate", {"customers": [customer("g")]})
    first = {"customers": [{"id": "g", "events": [purchase("dup", 10)]}]}
    second = {"customers": [{"id": "g", "events": [purchase("dup", 10), purchase("new", 5)]}]}
    history = {"customers": [{"id": "g", "transactions": [transaction(1200)]}]}
    sent = [
        roster.masivo(tenant, "/customers/migrate/events", first),
        roster.masivo(tenant, "/customers/migrate/events", second),
        roster.masivo(tenant, "/customers/migrate/transactions", history),
        roster.masivo(tenant, "/customers/migrate/transactions", history),
    ]
    assert [r.status_code for r in sent] == [201] * 4
    roster.drain()
    ids = [r.json()["batch_id"] for r in sent]
    later = roster.batch(tenant, ids[1])
    assert later["counts"] == {"total": 2, "applied": 1, "skipped": 1, "failed": 0}
    assert ids[0] in later["warnings"][0]["message"]
    refused = roster.batch(tenant, ids[3])
    assert [e["code"] for e in refused["errors"]] == ["transactions_already_migrated"]
    profile = roster.customer(tenant, "g")
    assert profile is not None
    assert profile["metrics"]["lifetime"]["number_of_purchases"] == 2
    assert len(transactions(roster, tenant, "g")) == 1


def test_an_amount_with_too_many_digits_fails_its_entry_not_the_batch(roster: Harness) -> None:
    """A balance or an order value with 70 decimal places is refused with its field (it would
    not fit an amount's column); the batch ends done and the other entries apply."""
    tenant = roster.tenant()
    tiny = "0." + "0" * 70 + "1"
    body = (
        '{"customers": [{"id": "t", "balance": [{"reward_id": "r", "amount": ' + tiny + "}]},"
        ' {"id": "ok", "balance": [{"reward_id": "r", "amount": 5}]}]}'
    )
    batch = roster.batch(tenant, roster.migrate(tenant, "/customers/migrate", body.encode()))
    assert batch["status"] == "done"
    assert [(e["key"], e["field"]) for e in batch["errors"]] == [
        ("t", "customers[0].balance[0].amount")
    ]
    event = purchase("p", 1)
    event["order"]["value"] = "VALUE"
    text = json.dumps({"customers": [{"id": "ok", "events": [event]}]}).replace('"VALUE"', tiny)
    events = roster.batch(
        tenant, roster.migrate(tenant, "/customers/migrate/events", text.encode())
    )
    assert events["status"] == "done"
    assert [e["field"] for e in events["errors"]] == ["customers[0].events[0].order.value"]


def test_customer_batches_applied_together_see_each_other(roster: Harness) -> None:
    """Two customer migrations queued back to back (applied as one group): the second updates
    the customer the first created, and an email the first gave away is taken."""
    tenant = roster.tenant()
    first = {"customers": [customer("one"), customer("two")]}
    second = {
        "customers": [
            customer("one", 7, name="Renamed"),
            customer("three", email="two@example.com"),
        ]
    }
    sent = [roster.masivo(tenant, "/customers/migrate", body) for body in (first, second)]
    assert [r.status_code for r in sent] == [201, 201]
    roster.drain()
    later = roster.batch(tenant, sent[1].json()["batch_id"])
    assert later["counts"] == {"total": 2, "applied": 1, "skipped": 0, "failed": 1}
    assert [(e["key"], e["code"]) for e in later["errors"]] == [("three", "email_taken")]
    one = roster.customer(tenant, "one")
    assert one is not None
    assert one["attributes"]["name"] == "Renamed"
    assert one["migrated_batch"] == sent[1].json()["batch_id"]
    assert wallet(roster, tenant, "one") == {REWARD: 7}


def test_a_batch_stored_without_its_reading_applies_the_same(roster: Harness) -> None:
    """The API reads each event and transaction when it accepts a batch and stores the reading;
    a batch stored without one (accepted before an upgrade) is read by the worker, with the
    same outcome, element by element."""
    odd = purchase("odd", "12.50")  # a value sent as a string: the general rules read it
    odd["issued_at"] = 1733864281  # epoch seconds
    no_value = purchase("none", 1)
    del no_value["order"]["value"]
    events = [purchase("p1", 10), odd, no_value, purchase("p1", 10), {"type": "VISIT"}]
    ledgers = []
    for readings in (True, False):
        tenant = roster.tenant()
        cid = "r"  # the same id in each workspace, so the messages match
        roster.migrate(tenant, "/customers/migrate", {"customers": [customer(cid, 30)]})
        bodies = [
            ("/customers/migrate/events", {"customers": [{"id": cid, "events": events}]}),
            (
                "/customers/migrate/transactions",
                {"customers": [{"id": cid, "transactions": [transaction(30), {"type": "X"}]}]},
            ),
            (
                "/customers/migrate/transactions",
                {"customers": [{"id": cid, "transactions": [transaction("30")]}]},
            ),
        ]
        for path, body in bodies:
            response = roster.masivo(tenant, path, body)
            assert response.status_code == 201, response.text
            batch_id = response.json()["batch_id"]
            if not readings:
                with roster.db.write() as conn:
                    conn.execute(
                        sa.update(batch_payloads)
                        .where(batch_payloads.c.batch_id == batch_id)
                        .values(prepared=None)
                    )
            roster.drain()
            view = roster.batch(tenant, batch_id)
            ledgers.append(
                (
                    path,
                    view["counts"],
                    [(e["index"], e["field"], e["code"], e["message"]) for e in view["errors"]],
                    [(w["index"], w["code"]) for w in view["warnings"]],
                )
            )
        stored = roster.events(tenant, cid)
        assert sorted(e["attributes"]["order"].get("purchase_id") for e in stored) == ["odd", "p1"]
        assert wallet(roster, tenant, cid) == {REWARD: 30}
    with_readings, without = ledgers[:3], ledgers[3:]
    assert with_readings == without
    assert with_readings[0][1] == {"total": 5, "applied": 2, "skipped": 1, "failed": 2}
    assert with_readings[1][1] == {"total": 2, "applied": 0, "skipped": 0, "failed": 2}
    assert with_readings[2][1] == {"total": 1, "applied": 1, "skipped": 0, "failed": 0}


def test_profile_fields_that_cannot_be_attributes_are_warned_of_and_left_out(
    roster: Harness,
) -> None:
    """A profile field too long or not a scalar is left out with a warning naming it; the other
    fields and the customer's wallet are kept. Numbers become numbers."""
    tenant = roster.tenant()
    odd = customer("odd", name="x" * 600, country={"code": "MX"}, document_number=12.5)
    batch = roster.batch(tenant, roster.migrate(tenant, "/customers/migrate", {"customers": [odd]}))
    assert batch["counts"] == {"total": 1, "applied": 1, "skipped": 0, "failed": 0}
    assert [(w["index"], w["field"], w["code"]) for w in batch["warnings"]] == [
        (0, "customers[0].name", "value_too_long"),
        (0, "customers[0].country", "invalid_attribute_value"),
    ]
    profile = roster.customer(tenant, "odd")
    assert profile is not None
    assert "name" not in profile["attributes"]
    assert "country" not in profile["attributes"]
    assert profile["attributes"]["document_number"] == 12.5
    assert profile["attributes"]["gender"] == "FEMALE"
    assert wallet(roster, tenant, "odd") == {REWARD: 1200}


def test_a_customer_migrated_again_takes_the_new_batch_and_metrics(roster: Harness) -> None:
    """Migrating a migrated-only customer again (alone, or after its creation in the same group
    of batches) records the later batch and the later metrics, and the later balance."""
    tenant = roster.tenant()
    first = {"lifetime": {"spend_total": 10}}
    again = {"lifetime": {"spend_total": 20}}
    roster.migrate(tenant, "/customers/migrate", {"customers": [customer("a", 5, metrics=first)]})
    later_body = {"customers": [customer("new", 1), customer("a", 7, metrics=again)]}
    later = roster.migrate(tenant, "/customers/migrate", later_body)
    bodies = [  # two batches applied as one group: created by the first, migrated again
        {"customers": [customer("b", 5, metrics=first)]},
        {"customers": [customer("b", 7, metrics=again)]},
    ]
    ids = []
    for body in bodies:
        response = roster.masivo(tenant, "/customers/migrate", body)
        assert response.status_code == 201, response.text
        ids.append(response.json()["batch_id"])
    roster.drain()
    for cid, batch_id in (("a", later), ("b", ids[1])):
        profile = roster.customer(tenant, cid)
        assert profile is not None
        assert profile["migrated_batch"] == batch_id
        assert profile["metrics"] == {**again, "source": "migration"}
        assert wallet(roster, tenant, cid) == {REWARD: 7}
