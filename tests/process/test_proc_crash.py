"""Crash tests with real processes (RELIABILITY-PLAN C1 tests 1, 2 and 3).

Workers are SIGKILLed while batches flow, one of them from inside its apply transaction
(``ROSTER_FAULT_POINT=worker_mid_apply``); the API is SIGKILLed right after it answered. In
every case each acknowledged batch ends ``done`` with every element applied exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from process_kit import (
    CUSTOMERS_PER_BATCH,
    Cluster,
    Proc,
    chaos_elements,
    check_exactly_once,
    client,
    drain,
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

from roster.store.database import Database
from roster_testkit import Tenant

pytestmark = pytest.mark.process

STREAM = {"postgres": 60, "sqlite": 36}  # batches per test


def applied_by(worker: Proc, batch_id: str) -> int:
    """How many times the worker's current incarnation logged applying the batch."""
    return sum(
        1
        for e in worker.events()
        if e.get("event") == "batch.applied" and e.get("batch_id") == batch_id
    )


def kill_a_worker(db: Database, workers: list[Proc], fallback: Proc) -> tuple[Proc, bool]:
    """SIGKILL a worker seen holding a lease within 1 s (else ``fallback``); restart it."""
    by_pid = {w.pid: w for w in workers if w.alive}
    deadline = time.monotonic() + 1.0
    victim, holding = fallback, False
    while time.monotonic() < deadline and not holding:
        for r in rows(db, "SELECT lease_owner FROM batches WHERE status = 'processing'"):
            pid = lease_owner_pid(r.lease_owner)
            if pid in by_pid:
                victim, holding = by_pid[pid], True
                break
        else:
            time.sleep(0.01)
    assert victim.kill() == -9
    victim.start()
    return victim, holding


def test_sigkilled_workers_lose_nothing_and_apply_nothing_twice(
    store_cluster: Cluster,
    make_tenant: Callable[[Cluster, str], Tenant],
    figure: Callable[[str], None],
) -> None:
    """Workers SIGKILLed mid-stream, one inside its apply transaction, lose and repeat nothing."""
    cluster = store_cluster
    store = store_of(cluster)
    n_batches = STREAM[store]
    tag = "chaos"
    tenants = [make_tenant(cluster, f"chaos-{n}") for n in range(3)]
    api = cluster.api()
    w1 = cluster.worker("w1")
    w2 = cluster.worker("w2", ROSTER_FAULT_POINT="worker_mid_apply")
    start_all(api, w2)
    acked: dict[str, tuple[Tenant, int]] = {}
    kills, holding_kills = 0, 0
    with client(api) as http, opened(cluster.url) as db:
        # The faulty worker is alone: it kills itself inside its first apply transaction.
        response = post_transition(http, tenants[0], chaos_elements(tag, 0))
        assert response.status_code == 200, response.text
        victim = response.json()["batch_id"]
        acked[victim] = (tenants[0], 0)
        wait_for("the faulty worker to kill itself", lambda: not w2.alive, 20)
        assert w2.wait(5) == -9
        [held] = rows(
            db, "SELECT status, attempts, lease_owner FROM batches WHERE id = :id", id=victim
        )
        assert (held.status, held.attempts, lease_owner_pid(held.lease_owner)) == (
            "processing",
            1,
            w2.pid,
        )
        # Nothing of the half-applied batch is visible: its transaction was rolled back.
        half = scalar(db, "SELECT count(*) FROM events WHERE batch_id = :id", id=victim)
        half += scalar(db, "SELECT count(*) FROM customers WHERE created_batch = :id", id=victim)
        assert half == 0

        # The other worker takes it over when its lease expires and applies it exactly once.
        start_all(w1)
        wait_for("the other worker to re-apply it", lambda: is_done(db, victim), 30)
        [redone] = rows(db, "SELECT attempts FROM batches WHERE id = :id", id=victim)
        assert redone.attempts == 2
        wait_for("w1 to log applying it", lambda: applied_by(w1, victim) > 0, 10)
        assert applied_by(w1, victim) == 1
        assert scalar(db, "SELECT count(*) FROM events WHERE batch_id = :id", id=victim) == (
            CUSTOMERS_PER_BATCH
        )

        # Then the stream, with both workers (the faulty one restarted without its fault).
        w2.start(ROSTER_FAULT_POINT=None)
        kill_at = {n_batches // 4, n_batches // 2, 3 * n_batches // 4}
        for no in range(1, n_batches):
            tenant = tenants[no % len(tenants)]
            response = post_transition(http, tenant, chaos_elements(tag, no))
            assert response.status_code == 200, response.text
            acked[response.json()["batch_id"]] = (tenant, no)
            if no in kill_at:
                fallback = w1 if kills % 2 == 0 else w2
                _, holding = kill_a_worker(db, [w1, w2], fallback)
                kills += 1
                holding_kills += holding
            time.sleep(0.03)
        drain(db, timeout=60)
        lost, dup = check_exactly_once(db, http, acked, tag)
        reclaimed = scalar(db, "SELECT count(*) FROM batches WHERE attempts > 1")
    figure(
        f"FIGURE chaos_sigkill store={store} batches={n_batches} "
        f"elements={n_batches * 2 * CUSTOMERS_PER_BATCH} lost={lost} dup={dup} kills={kills} "
        f"kills_holding_lease={holding_kills} fault_kills=1 reclaimed={reclaimed} "
        f"mid_apply_victim_attempts={redone.attempts}"
    )


def assert_durable_commit_settings(db: Database) -> str:
    """The store acknowledges only durable commits: PG synchronous_commit, SQLite WAL + FULL."""
    if db.is_sqlite:
        with db.write() as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        assert (mode, sync) == ("wal", 2)
        return f"journal_mode={mode} synchronous={sync}"
    with db.read() as conn:
        setting = conn.exec_driver_sql("SHOW synchronous_commit").scalar()
    assert setting == "on"
    return f"synchronous_commit={setting}"


def test_api_sigkilled_after_answering_loses_no_acknowledged_batch(
    store_cluster: Cluster,
    make_tenant: Callable[[Cluster, str], Tenant],
    figure: Callable[[str], None],
) -> None:
    """The API SIGKILLed right after every 5th 200 loses none of the acknowledged batches."""
    cluster = store_cluster
    store = store_of(cluster)
    rounds, per_round, tag = 6, 5, "ack"
    tenants = [make_tenant(cluster, f"ack-{n}") for n in range(2)]
    api = cluster.api()
    start_all(api)
    acked: dict[str, tuple[Tenant, int]] = {}
    with opened(cluster.url) as db:
        durability = assert_durable_commit_settings(db)
        for round_no in range(rounds):
            with client(api) as http:
                for k in range(per_round):
                    no = round_no * per_round + k
                    tenant = tenants[no % len(tenants)]
                    response = post_transition(http, tenant, chaos_elements(tag, no))
                    assert response.status_code == 200, response.text
                    acked[response.json()["batch_id"]] = (tenant, no)
                assert api.kill() == -9  # right after the 5th 200, its connection still open
            api.start().ready()
        kills = rounds
        stored = scalar(db, "SELECT count(*) FROM batches WHERE status = 'queued'")
        assert stored == len(acked)  # no worker ran: every acknowledged batch is still queued
        workers = [cluster.worker("w1"), cluster.worker("w2")]
        start_all(*workers)
        drain(db, timeout=60)
        with client(api) as http:
            lost, dup = check_exactly_once(db, http, acked, tag)
    acked_lost = len(acked) - stored + lost
    figure(
        f"FIGURE api_kill_after_ack store={store} acked={len(acked)} acked_lost={acked_lost} "
        f"dup={dup} api_kills={kills} {durability}"
    )
