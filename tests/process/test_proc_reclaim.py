"""Reclaim with real processes (issue 18): with the default lease a killed worker's batch is
taken over by another worker, and a worker that is alive but busy for longer than a lease
keeps its batch, since its heartbeat renews the lease."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from process_kit import (
    Cluster,
    client,
    is_done,
    lease_owner_pid,
    opened,
    post_transition,
    rows,
    scalar,
    start_all,
    store_of,
    wait_for,
)

from roster.settings import Settings
from roster_testkit import Tenant

pytestmark = pytest.mark.process

ELEMENTS = [
    {"type": "event", "customer_id": f"r-{i}", "actions": [{"action": "reclaimed"}]}
    for i in range(20)
]


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def test_a_killed_workers_batch_is_taken_over_with_the_default_lease(
    store_cluster: Cluster,
    make_tenant: Callable[[Cluster, str], Tenant],
    figure: Callable[[str], None],
) -> None:
    """The first worker dies right after claiming; the second, with every lease setting at its
    default, takes the batch over once the lease runs out and applies it once."""
    cluster = store_cluster
    defaults = {"ROSTER_LEASE_SECONDS": None, "ROSTER_HEARTBEAT_SECONDS": None}
    defaults["ROSTER_POLL_SECONDS"] = None
    for key in defaults:
        cluster.env.pop(key)
    tenant = make_tenant(cluster, "reclaim")
    api = cluster.api()
    doomed = cluster.worker("doomed", ROSTER_FAULT_POINT="worker_after_claim")
    rescuer = cluster.worker("rescuer")
    start_all(api, doomed)
    with client(api) as http:
        batch_id = post_transition(http, tenant, ELEMENTS).json()["batch_id"]
    assert doomed.wait(30) == -9  # it killed itself holding the lease
    start_all(rescuer)
    with opened(cluster.url) as db:
        wait_for(
            "the batch to be taken over and applied",
            lambda: is_done(db, batch_id),
            timeout=60,
        )
        (batch,) = rows(db, "SELECT attempts, started_at FROM batches WHERE id = :id", id=batch_id)
        stored = scalar(db, "SELECT count(*) FROM events WHERE batch_id = :id", id=batch_id)
    (takeover,) = [e for e in rescuer.events() if e.get("event") == "batch.taken_over"]
    after_s = (_ms(takeover["timestamp"]) - batch.started_at) / 1000
    settings = Settings()
    figure(
        f"FIGURE reclaim store={store_of(cluster)} lease_s={settings.lease_seconds} "
        f"heartbeat_s={settings.heartbeat_seconds} taken_over_after_s={after_s:.2f}"
    )
    assert (batch.attempts, stored) == (2, len(ELEMENTS))


def test_a_busy_worker_keeps_its_batch_past_its_lease(
    store_cluster: Cluster, make_tenant: Callable[[Cluster, str], Tenant]
) -> None:
    """A live worker that decides for three leases (``worker_slow_decide``) while another
    worker polls is not taken over: its heartbeat keeps renewing the lease."""
    cluster = store_cluster
    tenant = make_tenant(cluster, "busy")
    api = cluster.api()
    slow = cluster.worker("slow", ROSTER_FAULT_POINT="worker_slow_decide")
    other = cluster.worker("other")
    start_all(api, slow)
    with client(api) as http:
        batch_id = post_transition(http, tenant, ELEMENTS).json()["batch_id"]
    with opened(cluster.url) as db:

        def held_by_slow() -> bool:
            owner = scalar(db, "SELECT lease_owner FROM batches WHERE id = :id", id=batch_id)
            return lease_owner_pid(owner) == slow.pid

        wait_for("the slow worker to claim the batch", held_by_slow, timeout=30)
        start_all(other)
        wait_for(
            "the slow worker to finish",
            lambda: is_done(db, batch_id),
            timeout=60,
        )
        attempts = scalar(db, "SELECT attempts FROM batches WHERE id = :id", id=batch_id)
        stored = scalar(db, "SELECT count(*) FROM events WHERE batch_id = :id", id=batch_id)
    applied_by = [
        p.name
        for p in (slow, other)
        for e in p.events()
        if e.get("event") == "batch.applied" and e.get("batch_id") == batch_id
    ]
    taken = [e for p in (slow, other) for e in p.events() if e.get("event") == "batch.taken_over"]
    assert (attempts, applied_by, taken, stored) == (1, ["slow"], [], len(ELEMENTS))
