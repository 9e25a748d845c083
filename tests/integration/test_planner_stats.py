"""Planner statistics: the workers re-analyse the tables an import outgrew (PostgreSQL), in a
thread beside the apply path, one session per table at a time."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from roster.services.worker.loop import Worker
from roster.store import planner_stats
from roster_testkit import Harness


def _customers(roster: Harness, tenant_id: str, count: int) -> None:
    rows = [
        {
            "workspace_id": tenant_id,
            "customer_id": f"s{n}",
            "attributes": "{}",
            "attribute_times": "{}",
            "created_at": 0,
            "updated_at": 0,
        }
        for n in range(count)
    ]
    with roster.db.write() as conn:
        conn.execute(sa.text("INSERT INTO customers (workspace_id, customer_id, attributes,"
                             " attribute_times, created_at, updated_at) VALUES (:workspace_id,"
                             " :customer_id, :attributes, :attribute_times, :created_at,"
                             " :updated_at)"), rows)  # fmt: skip
        if not roster.db.is_sqlite:  # counters reach pg_stat_user_tables at once
            conn.execute(sa.text("SELECT pg_stat_force_next_flush()"))


def _stale(roster: Harness) -> list[str]:
    with roster.db.read() as conn:
        return planner_stats.stale_tables(conn)


def test_a_table_an_import_outgrew_is_analysed_once(roster: Harness) -> None:
    """After 3,000 new customers the customers table is stale (PostgreSQL); one refresh
    analyses it, and a second worker's refresh right after finds nothing left to do. SQLite
    keeps no such statistics: nothing is ever stale there."""
    tenant = roster.tenant()
    _customers(roster, tenant.id, 3000)
    if roster.db.is_sqlite:
        assert _stale(roster) == []
        assert roster.worker.housekeeping.refresh_planner_stats() == []
        return
    deadline = time.monotonic() + 10
    while "customers" not in _stale(roster) and time.monotonic() < deadline:
        time.sleep(0.05)  # the counters reach the statistics views asynchronously
    assert "customers" in _stale(roster)
    assert "customers" in roster.worker.housekeeping.refresh_planner_stats()
    other = Worker(roster.db, roster.worker.settings, name="second")
    assert "customers" not in other.housekeeping.refresh_planner_stats()
    assert "customers" not in _stale(roster)


def test_the_stats_keeper_runs_beside_the_loop_and_stops_with_it(roster: Harness) -> None:
    """``Worker.run`` starts the keeper thread on PostgreSQL only, and it ends with the loop."""
    worker = Worker(roster.db, roster.worker.settings, name="keeper")
    stop = threading.Event()
    loop = threading.Thread(target=worker.run, args=(stop,))
    loop.start()
    time.sleep(0.2)
    keepers = [t for t in threading.enumerate() if t.name == "roster-stats"]
    assert len(keepers) == (0 if roster.db.is_sqlite else 1)
    stop.set()
    loop.join(timeout=10)
    assert not loop.is_alive()
    assert not [t for t in threading.enumerate() if t.name == "roster-stats"]
