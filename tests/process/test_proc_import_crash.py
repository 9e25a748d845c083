"""A CSV people import applied a chunk per transaction survives its worker's death with real
processes: SIGKILLed between two chunks, or inside a chunk's transaction, the worker that takes
it over resumes at the first chunk not applied. Every row ends applied or reported exactly
once, and no person is created twice."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import httpx
import pytest
from process_kit import Cluster, client, opened, rows, scalar, start_all, store_of, wait_for

from roster.formats.customerio_people_csv import CHUNK_ROWS
from roster_testkit import Tenant

pytestmark = pytest.mark.process

ROWS = 2 * CHUNK_ROWS + 5_000  # three chunks
EVERY_BAD = 1_000  # rows without an id, one in every thousand


def people_file() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "email", "plan"])
    for n in range(ROWS):
        cid = "" if n % EVERY_BAD == 3 else f"p{n}"
        writer.writerow([cid, f"p{n}@example.com", f"plan-{n % 7}"])
    return out.getvalue().encode()


def post_import(http: httpx.Client, tenant: Tenant) -> str:
    """Post the people file as an import; its batch id."""
    response = http.post(
        "/v1/imports/people",
        content=people_file(),
        headers={**tenant.auth, "Content-Type": "text/csv"},
    )
    assert response.status_code == 202, response.text
    batch_id: str = response.json()["batch_id"]
    return batch_id


@pytest.mark.parametrize("fault", ["worker_between_chunks", "worker_mid_apply"])
def test_a_worker_killed_mid_import_is_resumed_without_loss_or_repeat(
    store_cluster: Cluster,
    make_tenant: Callable[[Cluster, str], Tenant],
    figure: Callable[[str], None],
    fault: str,
) -> None:
    cluster = store_cluster
    tenant = make_tenant(cluster, "import")
    api = cluster.api()
    faulty = cluster.worker("w1", ROSTER_FAULT_POINT=fault)
    start_all(api, faulty)
    with client(api, timeout=60) as http, opened(cluster.url) as db:
        batch_id = post_import(http, tenant)
        wait_for("the faulty worker to kill itself", lambda: not faulty.alive, 30)
        assert faulty.wait(5) == -9
        done_before = scalar(db, "SELECT done_chunks FROM batches WHERE id = :id", id=batch_id)
        assert done_before == (1 if fault == "worker_between_chunks" else 0)

        rescuer = cluster.worker("w2")
        start_all(rescuer)

        def finished() -> bool:
            status = scalar(db, "SELECT status FROM batches WHERE id = :id", id=batch_id)
            return bool(status == "done")

        wait_for("the other worker to finish the import", finished, 90)
        bad = len([n for n in range(ROWS) if n % EVERY_BAD == 3])
        batch = http.get(f"/v1/batches/{batch_id}", headers=tenant.auth).json()
        assert batch["counts"] == {
            "total": ROWS,
            "applied": ROWS - bad,
            "skipped": 0,
            "failed": bad,
        }
        assert [e["index"] for e in batch["errors"]] == [
            n + 2 for n in range(ROWS) if n % EVERY_BAD == 3
        ]
        people = scalar(db, "SELECT count(*) FROM customers WHERE created_batch = :id", id=batch_id)
        assert people == ROWS - bad
        [ordinals] = rows(
            db,
            "SELECT count(*) AS n, count(DISTINCT ordinal) AS d FROM batch_issues"
            " WHERE batch_id = :id",
            id=batch_id,
        )
        assert ordinals.n == ordinals.d == bad
    figure(
        f"FIGURE import_crash store={store_of(cluster)} fault={fault} rows={ROWS} "
        f"chunks_done_at_kill={done_before} lost=0 dup=0"
    )


def test_an_import_making_progress_outlives_more_takeovers_than_max_attempts(
    store_cluster: Cluster, make_tenant: Callable[[Cluster, str], Tenant]
) -> None:
    """Every worker dies after committing one chunk, and ROSTER_MAX_ATTEMPTS is 1: each
    takeover would be one attempt too many, but an attempt that commits a chunk does not count
    against the limit, so the import ends done, each chunk applied once."""
    cluster = store_cluster
    tenant = make_tenant(cluster, "progress")
    api = cluster.api()
    start_all(api)
    settings = {"ROSTER_FAULT_POINT": "worker_between_chunks", "ROSTER_MAX_ATTEMPTS": "1"}
    settings["ROSTER_LEASE_SECONDS"] = "1"
    with client(api, timeout=60) as http, opened(cluster.url) as db:
        batch_id = post_import(http, tenant)
        for n in range(3):  # three chunks: three workers, each killed after its chunk
            worker = cluster.worker(f"w{n}", **settings)
            start_all(worker)
            wait_for(f"worker {n} to kill itself", lambda w=worker: not w.alive, 60)  # type: ignore[misc]
            done = scalar(db, "SELECT done_chunks FROM batches WHERE id = :id", id=batch_id)
            assert done == n + 1
        status = scalar(db, "SELECT status FROM batches WHERE id = :id", id=batch_id)
        assert status == "done"
        people = scalar(db, "SELECT count(*) FROM customers WHERE created_batch = :id", id=batch_id)
        bad = len([n for n in range(ROWS) if n % EVERY_BAD == 3])
        assert people == ROWS - bad
