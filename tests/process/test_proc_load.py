"""``roster load`` as a real process, SIGKILLed at random points of a 100,000-record load and run
again until it finishes: every record applied exactly once, the report complete."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from process_kit import Cluster, Proc, drain, opened, scalar, wait_for

from roster_testkit import Tenant

pytestmark = pytest.mark.process

RECORDS = 100_000
BAD_EVERY = 997  # a record with a blank customer id: failed, and in the report
MAX_ATTEMPTS = 12


def _file(path: Path) -> list[int]:
    """The load's file; the lines of its bad records."""
    bad = []
    with open(path, "w", encoding="utf-8") as out:
        for i in range(RECORDS):
            cid = "  " if i % BAD_EVERY == 3 else f"c{i}"
            if cid == "  ":
                bad.append(i + 1)
            element = {"type": "customer", "customer_id": cid, "attributes": {"n": i}}
            out.write(json.dumps(element) + "\n")
    return bad


def _loader(cluster: Cluster, tenant: Tenant, url: str, path: Path) -> subprocess.Popen[bytes]:
    env = {
        **cluster.env,
        "ROSTER_URL": url,
        "ROSTER_WORKSPACE": tenant.id,
        "ROSTER_KEY": tenant.key,
    }
    args = ["load", "transition", str(path), "--run", "kill-test", "--report", "report.csv"]
    return subprocess.Popen(
        [sys.executable, "-m", "roster", *args],
        env=env,
        cwd=cluster.dir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _running(cluster: Cluster, tenant: Tenant) -> tuple[Proc, Tenant, Path, list[int]]:
    """An API and a worker started on the cluster's store, and the load's file written."""
    api, worker = cluster.api(), cluster.worker("worker")
    api.start()
    worker.start()
    api.ready()
    path = cluster.dir / "customers.jsonl"
    return api, tenant, path, _file(path)


def _stored(cluster: Cluster) -> tuple[int, int, int]:
    """Once the queue is drained: customers, and the run's elements and failures."""
    with opened(cluster.url) as db:
        drain(db)
        customers = scalar(db, "SELECT count(*) FROM customers")
        elements = scalar(db, "SELECT sum(element_count) FROM batches WHERE run = 'kill-test'")
        failed = scalar(db, "SELECT sum(failed) FROM batches WHERE run = 'kill-test'")
    return int(customers), int(elements), int(failed)


def test_a_load_killed_again_and_again_applies_every_record_once(
    store_cluster: Cluster,
    make_tenant: Callable[[Cluster, str], Tenant],
    figure: Callable[[str], None],
) -> None:
    """The loader is SIGKILLed at random moments and started again until it finishes; then
    each good record is one customer, the run's batches hold each record once, and the report
    lists exactly the bad lines."""
    cluster = store_cluster
    api, tenant, path, bad = _running(cluster, make_tenant(cluster, "load"))
    rng = random.Random(20261205)
    kills = 0
    for _attempt in range(MAX_ATTEMPTS):
        loader = _loader(cluster, tenant, api.base_url, path)
        if kills < 4:
            time.sleep(rng.uniform(0.3, 2.5))
            if loader.poll() is None:
                os.killpg(loader.pid, signal.SIGKILL)
                loader.wait(10)
                kills += 1
                continue
        code = loader.wait(300)
        if code in (0, 1):
            break
    else:
        raise AssertionError(f"the load never finished in {MAX_ATTEMPTS} attempts")
    assert code == 1  # some records failed: the report lists them
    assert kills >= 2
    customers, elements, failed = _stored(cluster)
    assert customers == RECORDS - len(bad)
    assert elements == RECORDS  # no record was accepted twice
    assert failed == len(bad)
    with open(cluster.dir / "report.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["line"]) for r in rows] == bad
    assert {r["code"] for r in rows} == {"invalid_customer_id"}
    figure(f"FIGURE load_sigkill kills={kills} records={RECORDS} applied_once=True")


def test_a_load_rides_out_an_api_killed_and_restarted_under_it(
    store_cluster: Cluster,
    make_tenant: Callable[[Cluster, str], Tenant],
    figure: Callable[[str], None],
) -> None:
    """The API is SIGKILLed while the loader sends and comes back on the same port: the loader
    retries the lost requests with their keys and finishes, every record applied once."""
    cluster = store_cluster
    api, tenant, path, bad = _running(cluster, make_tenant(cluster, "restart"))
    loader = _loader(cluster, tenant, api.base_url, path)

    def sending() -> bool:  # past its first probe (an unreachable target at start stops it)
        with opened(cluster.url) as db:
            return int(scalar(db, "SELECT count(*) FROM batches WHERE run = 'kill-test'")) > 0

    wait_for("the loader to send its first request", sending, 60)
    api.kill()  # while it sends, or follows the run: either must ride it out
    time.sleep(1.0)
    api.start(same_port=True)
    api.ready()
    code = loader.wait(300)
    assert code == 1  # the bad records failed; nothing else did
    customers, elements, _ = _stored(cluster)
    assert customers == RECORDS - len(bad)
    assert elements == RECORDS
    with open(cluster.dir / "report.csv", newline="", encoding="utf-8") as f:
        assert [int(r["line"]) for r in csv.DictReader(f)] == bad
    figure(f"FIGURE load_api_restart records={RECORDS} applied_once=True")
