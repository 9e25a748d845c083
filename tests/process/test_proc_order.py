"""Ordering with real processes (RELIABILITY-PLAN C1 test 12, SPEC 3 "Ordering").

The batches of one workspace are applied one at a time in acceptance order, however many
worker processes and loops compete for them; different workspaces proceed in parallel.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from process_kit import (
    Cluster,
    Poster,
    client,
    drain,
    opened,
    post_transition,
    rows,
    scalar,
    start_all,
    store_of,
)

from roster_testkit import Tenant

pytestmark = pytest.mark.process

WORKSPACES = 4
BATCHES_PER_WORKSPACE = 12
CUSTOMERS = 6


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def touched(no: int) -> list[int]:
    """The customers batch ``no`` of a workspace updates (not all, so last writers differ)."""
    return [i for i in range(CUSTOMERS) if (no + i) % 3 != 0]


def counter_elements(no: int, label: str) -> list[dict[str, Any]]:
    return [
        {"type": "customer", "customer_id": f"o-{i}", "attributes": {"counter": no, "by": label}}
        for i in touched(no)
    ]


def listed_in_acceptance_order(http: Any, tenant: Tenant) -> list[dict[str, Any]]:
    """``GET /v1/batches?limit=1000`` (newest first), reversed: the acceptance order."""
    response = http.get("/v1/batches", params={"limit": 1000}, headers=tenant.auth)
    assert response.status_code == 200, response.text
    batches: list[dict[str, Any]] = response.json()["batches"]
    return batches[::-1]


def out_of_order(values: list[int]) -> int:
    return sum(1 for a, b in itertools.pairwise(values) if b < a)


def stamp_overlaps(batches: list[dict[str, Any]]) -> tuple[int, int]:
    """Consecutive batches whose recorded started_at precedes the previous finished_at.

    Reported, not asserted: a worker claims several consecutive batches of a workspace at once
    and applies them together, in order, so a later batch of the group is stamped started
    before the earlier ones finish (the sampled one-owner check and the finish order are the
    ones asserted). Returns (count, largest overlap in ms).
    """
    gaps = [
        ms(a["finished_at"]) - ms(b["started_at"])
        for a, b in itertools.pairwise(batches)
        if ms(b["started_at"]) < ms(a["finished_at"])
    ]
    return len(gaps), max(gaps, default=0)


class ConcurrencyMonitor(threading.Thread):
    """Samples the batches table: a workspace's ``processing`` batches must always be in the
    hands of one worker (one lease owner; it may hold several consecutive batches, applied
    together in order)."""

    def __init__(self, url: str) -> None:
        super().__init__(name="monitor", daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.samples = 0
        self.violations: list[tuple[str, int]] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        sql = (
            "SELECT workspace_id, count(DISTINCT lease_owner) AS n FROM batches "
            "WHERE status = 'processing' GROUP BY workspace_id "
            "HAVING count(DISTINCT lease_owner) > 1"
        )
        deadline = time.monotonic() + 120
        try:
            with opened(self.url) as db:
                while not self.stop.is_set() and time.monotonic() < deadline:
                    self.violations += [(r.workspace_id, r.n) for r in rows(db, sql)]
                    self.samples += 1
                    self.stop.wait(0.005)
        except BaseException as exc:  # reported by finish() in the test's thread
            self.error = exc

    def finish(self) -> None:
        self.stop.set()
        self.join(10)
        assert not self.is_alive()
        if self.error is not None:
            raise self.error


def applied_per_worker(cluster: Cluster) -> dict[str, int]:
    share = {}
    for proc in cluster.procs:
        if not proc.is_api:
            share[proc.name] = sum(
                1
                for n in range(1, proc.incarnation + 1)
                for e in proc.events(n)
                if e.get("event") == "batch.applied"
            )
    return share


def test_batches_of_each_workspace_apply_one_at_a_time_in_acceptance_order(
    pg_cluster: Cluster,
    make_tenant: Callable[[Cluster, str], Tenant],
    figure: Callable[[str], None],
) -> None:
    """Two worker processes apply each workspace's batches serially in acceptance order."""
    cluster = pg_cluster
    tenants = [make_tenant(cluster, f"order-{n}") for n in range(WORKSPACES)]
    api = cluster.api()
    workers = [cluster.worker(f"w{n}", ROSTER_WORKER_CONCURRENCY="2") for n in (1, 2)]
    start_all(api, *workers)
    posted: dict[str, list[str]] = {t.id: [] for t in tenants}

    def post_all(tenant: Tenant) -> None:
        with client(api) as http:
            for no in range(1, BATCHES_PER_WORKSPACE + 1):
                response = post_transition(http, tenant, counter_elements(no, tenant.id))
                assert response.status_code == 200, response.text
                posted[tenant.id].append(response.json()["batch_id"])

    # One client per workspace, each sequential: the acceptance order is the posting order,
    # and the four workspaces' batches interleave in the queue.
    monitor = ConcurrencyMonitor(cluster.url)
    monitor.start()
    posters = [Poster(lambda t=t: post_all(t), f"post-{t.id}") for t in tenants]
    for p in posters:
        p.start()
    for p in posters:
        p.join_ok(60)

    wrong_order, wrong_final, stamps, worst = 0, [], 0, 0
    with opened(cluster.url) as db, client(api) as http:
        drain(db, timeout=60)
        monitor.finish()
        for tenant in tenants:
            batches = listed_in_acceptance_order(http, tenant)
            assert [b["batch_id"] for b in batches] == posted[tenant.id]
            assert {b["status"] for b in batches} == {"done"}
            wrong_order += out_of_order([ms(b["accepted_at"]) for b in batches])
            wrong_order += out_of_order([ms(b["finished_at"]) for b in batches])
            n, gap = stamp_overlaps(batches)
            stamps, worst = stamps + n, max(worst, gap)
            for i in range(CUSTOMERS):
                last = max(no for no in range(1, BATCHES_PER_WORKSPACE + 1) if i in touched(no))
                view = http.get(f"/v1/customers/o-{i}", headers=tenant.auth).json()
                if view["attributes"].get("counter") != last:
                    wrong_final.append((tenant.id, i, view["attributes"], last))
        stale = scalar(
            db, "SELECT count(*) FROM batch_issues WHERE code = 'stale_attribute_skipped'"
        )
    share = applied_per_worker(cluster)
    figure(
        f"FIGURE order store=postgres workspaces={WORKSPACES} "
        f"batches={WORKSPACES * BATCHES_PER_WORKSPACE} wrong_order={wrong_order} "
        f"concurrent_in_workspace={len(monitor.violations)} samples={monitor.samples} "
        f"wrong_final={len(wrong_final)} stale_skips={stale} "
        f"stamp_overlaps={stamps} stamp_overlap_max_ms={worst} "
        f"applied_by={json.dumps(share, separators=(',', ':'))}"
    )
    assert (wrong_order, monitor.violations, wrong_final, stale) == (0, [], [], 0)
    assert sum(share.values()) == WORKSPACES * BATCHES_PER_WORKSPACE


@pytest.mark.parametrize(
    "store_cluster",
    [
        "postgres",
        "sqlite",
    ],
    indirect=True,
)
def test_concurrent_acceptances_keep_accept_time_in_acceptance_order(
    store_cluster: Cluster,
    make_tenant: Callable[[Cluster, str], Tenant],
    figure: Callable[[str], None],
) -> None:
    """Concurrent posts to one workspace through two APIs: the last accepted write wins."""
    cluster = store_cluster
    store = store_of(cluster)
    tenant = make_tenant(cluster, "race")
    apis = [cluster.api("a1"), cluster.api("a2")]
    workers = [cluster.worker("w1"), cluster.worker("w2")]
    start_all(*apis, *workers)
    threads, per_thread, customers = 8, 30, 8
    label_of: dict[str, tuple[str, list[int]]] = {}
    lock = threading.Lock()

    def post_many(k: int) -> None:
        mine = [k % customers, (k + 3) % customers]
        with client(apis[k % 2]) as http:
            for j in range(per_thread):
                label = f"{k}-{j}"
                elements = [
                    {"type": "customer", "customer_id": f"r-{i}", "attributes": {"v": label}}
                    for i in mine
                ]
                response = post_transition(http, tenant, elements)
                assert response.status_code == 200, response.text
                with lock:
                    label_of[response.json()["batch_id"]] = (label, mine)

    posters = [Poster(lambda k=k: post_many(k), f"post-{k}") for k in range(threads)]
    for p in posters:
        p.start()
    for p in posters:
        p.join_ok(90)

    with opened(cluster.url) as db, client(apis[0]) as http:
        drain(db, timeout=60)
        batches = listed_in_acceptance_order(http, tenant)
        assert len(batches) == threads * per_thread
        assert {b["status"] for b in batches} == {"done"}
        inversions = out_of_order([ms(b["accepted_at"]) for b in batches])
        finish_inversions = out_of_order([ms(b["finished_at"]) for b in batches])
        expected: dict[int, str] = {}
        for b in batches:  # replay in acceptance order: the last accepted value wins
            label, mine = label_of[b["batch_id"]]
            for i in mine:
                expected[i] = label
        final = {
            r.customer_id: json.loads(r.attributes)["v"]
            for r in rows(db, "SELECT customer_id, attributes FROM customers")
        }
        wrong_final = sum(1 for i, label in expected.items() if final[f"r-{i}"] != label)
        stale = scalar(
            db, "SELECT count(*) FROM batch_issues WHERE code = 'stale_attribute_skipped'"
        )
    figure(
        f"FIGURE accept_race store={store} batches={len(batches)} "
        f"accept_time_inversions={inversions} finish_inversions={finish_inversions} "
        f"wrong_final={wrong_final} stale_skips={stale}"
    )
    assert finish_inversions == 0
    assert (inversions, wrong_final, stale) == (0, 0, 0), (
        f"{inversions} accepted_at inversions in acceptance order, {stale} stale skips, "
        f"{wrong_final} customers not holding the last accepted value"
    )
