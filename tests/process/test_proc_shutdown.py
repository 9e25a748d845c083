"""Graceful shutdown on SIGTERM (RELIABILITY-PLAN C1 test 10)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable

import httpx
import pytest
from process_kit import (
    HOST,
    Cluster,
    Poster,
    Proc,
    chaos_elements,
    check_exactly_once,
    client,
    drain,
    lease_owner_pid,
    opened,
    post_transition,
    process_gone,
    rows,
    scalar,
    spawned_workers,
    start_all,
    store_of,
    wait_for,
)

from roster.store.database import Database
from roster_testkit import Tenant

pytestmark = pytest.mark.process

GRACE = 5  # ROSTER_SHUTDOWN_GRACE_SECONDS
HEAVY = 100  # customers (and events) per batch: 200 elements, so a batch takes a while
#: Batches queued before the worker starts: enough that a SIGTERM sent by a busy test machine
#: still finds some queued (the worker now drains 30 in well under a second).
BACKLOG = 60


def queue_backlog(
    http: httpx.Client, tenants: list[Tenant], tag: str
) -> dict[str, tuple[Tenant, int]]:
    acked: dict[str, tuple[Tenant, int]] = {}
    for no in range(BACKLOG):
        tenant = tenants[no % len(tenants)]
        response = post_transition(http, tenant, chaos_elements(tag, no, customers=HEAVY))
        assert response.status_code == 200, response.text
        acked[response.json()["batch_id"]] = (tenant, no)
    return acked


def held_by(db: Database, pid: int) -> list[str]:
    """The batches ``processing`` under a lease of the process ``pid``."""
    found = rows(db, "SELECT id, lease_owner FROM batches WHERE status = 'processing'")
    return [r.id for r in found if lease_owner_pid(r.lease_owner) == pid]


#: Most batches ``wait_until_busy`` adds when the worker drained the queue before it looked.
MAX_FED = 200


def feeder(
    http: httpx.Client, tenant: Tenant, tag: str, acked: dict[str, tuple[Tenant, int]]
) -> Callable[[], None]:
    """Posts one more batch of the backlog's kind, recorded in ``acked``."""

    def feed() -> None:
        no = len(acked)
        response = post_transition(http, tenant, chaos_elements(tag, no, customers=HEAVY))
        assert response.status_code == 200, response.text
        acked[response.json()["batch_id"]] = (tenant, no)

    return feed


def wait_until_busy(
    db: Database, pid: int, min_done: int = 2, feed: Callable[[], None] | None = None
) -> list[str]:
    """Wait until some batches are done and ``pid`` holds at least one; return those held.

    A worker may drain the whole backlog before a loaded machine lets this look: with ``feed``,
    one more batch is posted whenever none is queued (at most ``MAX_FED``)."""
    held: list[str] = []
    fed = 0

    def busy() -> bool:
        nonlocal held, fed
        done = scalar(db, "SELECT count(*) FROM batches WHERE status = 'done'")
        held = held_by(db, pid)
        if done >= min_done and held:
            return True
        queued = scalar(db, "SELECT count(*) FROM batches WHERE status = 'queued'")
        if feed is not None and not queued and fed < MAX_FED:
            feed()
            fed += 1
        return False

    wait_for(f"process {pid} to hold a batch", busy, 30, interval=0.005)
    return held


def test_sigterm_worker_finishes_the_batch_in_hand_and_leaves_no_lease(
    pg_cluster: Cluster,
    make_tenant: Callable[[Cluster, str], Tenant],
    figure: Callable[[str], None],
) -> None:
    """A SIGTERMed worker finishes its batch in hand, exits within the grace, leaves no lease."""
    cluster = pg_cluster
    tenants = [make_tenant(cluster, f"term-{n}") for n in range(2)]
    api = cluster.api()
    start_all(api)
    worker = cluster.worker(  # small groups, so that batches are still queued at SIGTERM
        "w1",
        ROSTER_SHUTDOWN_GRACE_SECONDS=str(GRACE),
        ROSTER_WORKER_CONCURRENCY="2",
        ROSTER_GROUP_MAX_BATCHES="2",
    )
    with client(api) as http, opened(cluster.url) as db:
        acked = queue_backlog(http, tenants, "term")
        start_all(worker)
        held = wait_until_busy(db, worker.pid)
        pid = worker.pid
        sent = time.monotonic()
        worker.signal(signal.SIGTERM)
        code = worker.wait(GRACE + 2)  # bounded by the grace period (plus interpreter exit)
        seconds = time.monotonic() - sent
        left = rows(
            db,
            "SELECT id, status, lease_owner FROM batches "
            "WHERE status = 'processing' OR lease_owner IS NOT NULL",
        )
        finished = [r for r in rows(db, "SELECT id, status, attempts FROM batches") if r.id in held]
        queued_at_exit = scalar(db, "SELECT count(*) FROM batches WHERE status = 'queued'")
        stopped = any(e.get("event") == "worker.stopped" for e in worker.events())

        worker.start()  # a restarted worker finishes everything, each batch exactly once
        drain(db, timeout=60)
        lost, dup = check_exactly_once(db, http, acked, "term", customers=HEAVY)
        max_attempts = scalar(db, "SELECT max(attempts) FROM batches")
    figure(
        f"FIGURE sigterm_worker store=postgres exit_code={code} exit_s={seconds:.1f} "
        f"grace_s={GRACE} held_at_sigterm={len(held)} held_finished="
        f"{sum(1 for r in finished if r.status == 'done' and r.attempts == 1)} "
        f"left_processing={len(left)} queued_at_exit={queued_at_exit} lost={lost} dup={dup} "
        f"max_attempts={max_attempts}"
    )
    assert code == 0
    assert stopped, "the worker did not log worker.stopped"
    assert left == [], f"batches left processing or leased after pid {pid} exited: {left}"
    assert [(r.status, r.attempts) for r in finished] == [("done", 1)] * len(held)
    assert queued_at_exit > 0  # it stopped on SIGTERM rather than draining the queue
    assert max_attempts == 1  # nothing was abandoned and re-run


def test_sigterm_api_exits_cleanly_and_keeps_every_acknowledged_batch(
    pg_cluster: Cluster,
    make_tenant: Callable[[Cluster, str], Tenant],
    figure: Callable[[str], None],
) -> None:
    """A SIGTERMed API exits (0 or -15) in the grace period; no 5xx, every 200 stays stored."""
    cluster = pg_cluster
    tenant = make_tenant(cluster, "term-api")
    api = cluster.api(ROSTER_SHUTDOWN_GRACE_SECONDS=str(GRACE))
    start_all(api)
    outcomes: Counter[str] = Counter()
    acked: list[tuple[str, float]] = []
    lock = threading.Lock()

    def post_loop(k: int) -> None:
        with client(api) as http:
            for j in range(100):
                try:
                    response = post_transition(http, tenant, chaos_elements(f"t{k}", j))
                except httpx.TransportError as exc:  # refused or cut once the API stops
                    with lock:
                        outcomes[type(exc).__name__] += 1
                    return
                with lock:
                    outcomes[str(response.status_code)] += 1
                    if response.status_code == 200:
                        acked.append((response.json()["batch_id"], time.monotonic()))
                if response.status_code != 200:
                    return

    posters = [Poster(lambda k=k: post_loop(k), f"post-{k}") for k in range(10)]
    for p in posters:
        p.start()
    wait_for("20 acknowledged posts", lambda: len(acked) >= 20, 30, interval=0.005)
    sent = time.monotonic()
    api.signal(signal.SIGTERM)
    code = api.wait(GRACE + 5)
    for p in posters:
        p.join_ok(30)
    with opened(cluster.url) as db:
        stored = {r.id for r in rows(db, "SELECT id FROM batches")}
    acked_ids = {batch_id for batch_id, _ in acked}
    answered_after = sum(1 for _, at in acked if at > sent)  # in flight, or sent before
    # the server saw the signal (uvicorn notices it within 0.1 s)
    server_errors = sum(n for status, n in outcomes.items() if status.startswith("5"))
    figure(
        f"FIGURE sigterm_api store=postgres exit_code={code} acked={len(acked_ids)} "
        f"acked_lost={len(acked_ids - stored)} answered_after_signal_sent={answered_after} "
        f"server_errors={server_errors} outcomes={dict(sorted(outcomes.items()))}"
    )
    assert code in (0, -signal.SIGTERM)
    assert server_errors == 0
    assert acked_ids <= stored


def _serve_with_a_worker(cluster: Cluster, *, processes: bool) -> Proc:
    serve = cluster.add(
        "serve",
        "serve",
        "--host",
        HOST,
        ROSTER_WORKERS="1",
        ROSTER_WORKER_PROCESSES=str(processes).lower(),
        ROSTER_SHUTDOWN_GRACE_SECONDS=str(GRACE),
        ROSTER_GROUP_MAX_BATCHES="2",  # small groups: batches are still queued when it stops
    )
    start_all(serve)
    return serve


def _worker_pid(serve: Proc, other_than: int | None = None) -> int:
    """The pid of the worker process ``serve`` started last (once it is running)."""
    found: list[int] = []

    def started() -> bool:
        found[:] = [p for p in spawned_workers(serve) if p != other_than]
        return bool(found)

    wait_for("serve to start a worker process", started, 30)
    return found[-1]


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_sigterm_embedded_serve_finishes_the_batch_in_hand(
    store_cluster: Cluster,
    make_tenant: Callable[[Cluster, str], Tenant],
    figure: Callable[[str], None],
    mode: str,
) -> None:
    """`roster serve` with its worker loop (a thread, or a child process) stops that worker on
    SIGTERM; the worker finishes its batch in hand, and serve exits 0 with no lease left."""
    cluster = store_cluster
    tenant = make_tenant(cluster, "term-serve")
    serve = _serve_with_a_worker(cluster, processes=mode == "processes")
    with client(serve) as http, opened(cluster.url) as db:
        acked = queue_backlog(http, [tenant], "serve")
        worker = _worker_pid(serve) if mode == "processes" else serve.pid
        held = wait_until_busy(db, worker, 1, feeder(http, tenant, "serve", acked))
        serve.signal(signal.SIGTERM)  # to serve's process group (a worker process has its own)
        code = serve.wait(GRACE + 5)
        stopped = any(e.get("event") == "worker.stopped" for e in serve.events())
        left = rows(db, "SELECT id FROM batches WHERE status = 'processing'")
        finished = [r for r in rows(db, "SELECT id, status, attempts FROM batches") if r.id in held]
    store = store_of(cluster)
    figure(
        f"FIGURE sigterm_serve store={store} workers={mode} exit_code={code} "
        f"worker_stopped={stopped} held_at_sigterm={len(held)} left_processing={len(left)}"
    )
    assert code == 0
    assert stopped, f"exit code {code}: the worker was never stopped"
    assert process_gone(worker)
    assert left == []
    assert [(r.status, r.attempts) for r in finished] == [("done", 1)] * len(held)


def test_serve_replaces_a_dead_worker_and_a_killed_serve_leaves_no_worker(
    store_cluster: Cluster,
    make_tenant: Callable[[Cluster, str], Tenant],
    figure: Callable[[str], None],
) -> None:
    """A worker process of `roster serve --worker-processes` killed with SIGKILL is replaced,
    and every batch is applied exactly once. When serve itself is killed with SIGKILL, its
    worker notices, stops after the batch in hand, and does not linger."""
    cluster = store_cluster
    tenant = make_tenant(cluster, "respawn")
    serve = _serve_with_a_worker(cluster, processes=True)
    with client(serve) as http, opened(cluster.url) as db:
        acked = queue_backlog(http, [tenant], "respawn")
        first = _worker_pid(serve)
        feed = feeder(http, tenant, "respawn", acked)
        wait_until_busy(db, first, 1, feed)
        os.kill(first, signal.SIGKILL)
        second = _worker_pid(serve, other_than=first)
        wait_until_busy(db, second, 1, feed)
        os.kill(serve.pid, signal.SIGKILL)  # serve alone: the worker is in a group of its own
        serve.wait(10)
        wait_for("the orphaned worker to exit", lambda: process_gone(second), GRACE + 10)
        gone_noticed = any(e.get("event") == "worker.parent_gone" for e in serve.events())
        left = rows(db, "SELECT id FROM batches WHERE status = 'processing'")
        serve.start().ready()  # a new serve (and worker) finishes the rest, exactly once
        drain(db, timeout=60)
        with client(serve) as again:  # on a new port
            lost, dup = check_exactly_once(db, again, acked, "respawn", customers=HEAVY)
    store = store_of(cluster)
    figure(
        f"FIGURE serve_workers store={store} replaced_after_sigkill={second != first} "
        f"parent_gone_logged={gone_noticed} "
        f"left_processing_by_orphan={len(left)} lost={lost} dup={dup}"
    )
    assert gone_noticed
    assert left == []  # the orphan finished its batch in hand before it exited
