"""A worker SIGKILLed inside a merge's apply transaction: nothing of the merge is visible, and
the worker that takes it over applies it exactly once (one journal entry, two markers, the
devices and events moved once). Real processes, on both stores."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from process_kit import (
    Cluster,
    client,
    drain,
    is_done,
    opened,
    post_transition,
    scalar,
    start_all,
    wait_for,
)

from roster_testkit import Tenant

pytestmark = pytest.mark.process


def test_a_merge_killed_mid_apply_is_applied_exactly_once(
    store_cluster: Cluster, make_tenant: Callable[[Cluster, str], Tenant]
) -> None:
    cluster = store_cluster
    tenant = make_tenant(cluster, "merge-crash")
    api = cluster.api()
    w1 = cluster.worker("w1")
    start_all(api, w1)
    now = int(time.time() * 1000)
    elements = [
        {"type": "customer", "customer_id": "A", "attributes": {"city": "Lima"}},
        {"type": "customer", "customer_id": "B", "attributes": {"city": "Quito"}},
        {
            "type": "device",
            "customer_id": "A",
            "device_id": "dA",
            "attributes": {"platform": "iOS", "push_id": "t"},
        },
        {"type": "event", "customer_id": "A", "actions": [{"action": "x", "current_time": now}]},
    ]
    with client(api) as http, opened(cluster.url) as db:
        assert post_transition(http, tenant, elements).status_code == 200
        drain(db, timeout=30)
        w1.signal(15)
        assert w1.wait(20) == 0
        w2 = cluster.worker("w2", ROSTER_FAULT_POINT="worker_mid_apply")
        start_all(w2)
        body = {"merge_data": [{"merged_user": "A", "retained_user": "B"}]}
        response = http.post(
            f"/v1/customer/merge?app_id={tenant.id}",
            content=json.dumps(body).encode(),
            headers=tenant.json_auth,
        )
        assert response.status_code == 200, response.text
        batch_id = response.json()["batch_id"]
        wait_for("the faulty worker to kill itself", lambda: not w2.alive, 20)
        assert w2.wait(5) == -9
        # Rolled back: A is live with its device, no journal entry, no marker.
        assert scalar(db, "SELECT count(*) FROM journal") == 0
        assert scalar(db, "SELECT count(*) FROM events WHERE name LIKE 'MOE_%'") == 0
        assert scalar(db, "SELECT count(*) FROM customers WHERE customer_id = 'A'") == 1
        w1.start()
        wait_for(
            "the merge to be applied",
            lambda: is_done(db, batch_id),
            30,
        )
        assert scalar(db, "SELECT attempts FROM batches WHERE id = :id", id=batch_id) == 2
        assert scalar(db, "SELECT count(*) FROM journal") == 1
        assert scalar(db, "SELECT count(*) FROM events WHERE name LIKE 'MOE_%'") == 2
        assert scalar(db, "SELECT count(*) FROM customers WHERE customer_id = 'A'") == 0
        b = http.get("/v1/customers/B", headers=tenant.auth).json()
        assert b["attributes"] == {"city": "Lima"}
        assert [d["device_id"] for d in b["devices"]] == ["dA"]
        names = sorted(
            e["name"]
            for e in http.get("/v1/customers/B/events", headers=tenant.auth).json()["events"]
        )
        assert names == ["MOE_USER_MERGED", "x"]
