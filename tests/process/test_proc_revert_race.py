"""A revert racing live transactions, with real processes (issue 3, SPEC §7 and §3 ordering).

An API process and two worker processes; live transactions and reverts of the same customers
are posted at the same time from two threads (some transactions before and after, so both
outcomes occur). Whatever the interleaving, each customer ends
either whole (its live transaction applied, the revert refused with has_new_transactions) or
gone with every row it owned (the transaction then fails unknown_customer), as the accept
order says; never half deleted.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import pytest
from process_kit import (
    Cluster,
    Poster,
    client,
    drain,
    opened,
    rows,
    scalar,
    start_all,
    store_of,
)

from roster_testkit import Tenant

pytestmark = pytest.mark.process

CUSTOMERS = 40
REVERT_SIZE = 8
OWNED = ("events", "wallet_transactions", "wallets", "devices", "customer_identifiers")


def test_a_revert_racing_live_transactions_never_half_deletes(
    store_cluster: Cluster,
    make_tenant: Callable[[Cluster, str], Tenant],
    figure: Callable[[str], None],
) -> None:
    cluster = store_cluster
    tenant = make_tenant(cluster, "race")
    api = cluster.api()
    start_all(api, cluster.worker("w1"), cluster.worker("w2"))
    ids = [f"r{i}" for i in range(CUSTOMERS)]
    bearer = {"Authorization": f"Bearer {tenant.key}", "Content-Type": "application/json"}
    customers = [
        {"id": cid, "email": f"{cid}@example.com", "balance": [{"reward_id": "pts", "amount": 100}]}
        for cid in ids
    ]
    events = [
        {"id": cid, "events": [{"type": "PURCHASE", "issued_at": "2024-01-01T00:00:00Z",
                                "order": {"purchase_id": f"{cid}-o", "value": 5}}]}
        for cid in ids
    ]  # fmt: skip
    with client(api) as http, opened(cluster.url) as db:
        for path, body in (
            ("/customers/migrate", customers),
            ("/customers/migrate/events", events),
        ):
            answer = http.post(
                f"/api/storefront/v1{path}", content=json.dumps({"customers": body}), headers=bearer
            )
            assert answer.status_code == 201, answer.text
        drain(db)
        rng = random.Random(7)
        order = rng.sample(ids, len(ids))
        tx_batches: dict[str, str] = {}
        revert_batches: list[str] = []

        def live(which: list[str]) -> None:
            for cid in which:
                body = {"type": "REDEMPTION", "reward_id": "pts", "amount": -30}
                answer = http.post(
                    f"/v1/customers/{cid}/transactions", json=body, headers=tenant.json_auth
                )
                assert answer.status_code == 202, answer.text
                tx_batches[cid] = answer.json()["batch_id"]

        def revert() -> None:
            for start in range(0, CUSTOMERS, REVERT_SIZE):
                chunk = ids[start : start + REVERT_SIZE]
                answer = http.request(
                    "DELETE",
                    "/api/storefront/v1/customers/migrate",
                    content=json.dumps({"customers": chunk}),
                    headers=bearer,
                )
                assert answer.status_code == 201, answer.text
                revert_batches.append(answer.json()["batch_id"])

        # A quarter of the transactions before the reverts, half racing them, a quarter after:
        # both outcomes are certain to occur, and the middle is a real race.
        early, racing, late = order[:10], order[10:30], order[30:]
        live(early)
        posters = [Poster(lambda: live(racing), "live"), Poster(revert, "revert")]
        for p in posters:
            p.start()
        for p in posters:
            p.join_ok(60)
        live(late)
        drain(db)

        seq = {r.id: r.seq for r in rows(db, "SELECT id, seq FROM batches")}
        statuses = {r.status for r in rows(db, "SELECT status FROM batches")}
        assert statuses == {"done"}
        reverted_by: dict[str, str] = {}
        outcome: dict[tuple[str, str], str] = {}
        for batch_id in revert_batches:
            view = http.get(f"/v1/batches/{batch_id}", headers=tenant.auth).json()
            for w in view["warnings"]:
                outcome[(batch_id, w["key"])] = w["code"]
            sql = "SELECT payload FROM batch_payloads WHERE batch_id = :id"
            body = rows(db, sql, id=batch_id)[0].payload
            for cid in json.loads(bytes(body))["customers"]:
                reverted_by[cid] = batch_id

        kept = gone = 0
        for cid in ids:
            tx, rv = tx_batches[cid], reverted_by[cid]
            profile = http.get(f"/v1/customers/{cid}", headers=tenant.auth)
            tx_view = http.get(f"/v1/batches/{tx}", headers=tenant.auth).json()
            if seq[tx] < seq[rv]:  # the transaction came first: the revert must refuse
                kept += 1
                assert profile.status_code == 200, cid
                assert profile.json()["wallet"][0]["balance"] == 70, cid
                assert outcome.get((rv, cid)) == "has_new_transactions", cid
                assert tx_view["counts"]["applied"] == 1, cid
            else:  # the revert came first: the customer is gone, the transaction finds none
                gone += 1
                assert profile.status_code == 404, cid
                assert [e["code"] for e in tx_view["errors"]] == ["unknown_customer"], cid
        assert kept + gone == CUSTOMERS
        assert kept >= len(early)
        assert gone >= len(late)
        for table in OWNED:
            orphans = scalar(
                db,
                f"SELECT count(*) FROM {table} t WHERE NOT EXISTS"
                " (SELECT 1 FROM customers c WHERE c.uid = t.uid)",
            )
            assert orphans == 0, table
        left = scalar(db, "SELECT count(*) FROM customers")
        assert left == kept
        wallets = scalar(db, "SELECT count(*) FROM wallets")
        assert wallets == kept
        events_left = scalar(db, "SELECT count(*) FROM events")
        assert events_left == kept
        figure(f"FIGURE revert_race store={store_of(cluster)} kept={kept} gone={gone}")
