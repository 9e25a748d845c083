"""``python -m bench.browse --out FILE [--customers N] [--events M] [--stores sqlite,postgres]``

Browsing at scale. Per store, a workspace of ``N`` customers (1,000,000 by default) with ``M``
events (10,000,000) and one of 10,000 customers are seeded straight into a fresh store (the
write path is the other stages' business), then a ``roster serve --no-worker`` is measured:

* **export:** ``GET /v1/export/customers`` of each workspace read to the end, each by a fresh
  server process, with that process's peak resident memory (``VmHWM``) after it: flat memory
  means the large export's peak is no higher than the small one's;
* **reads:** the latency of the read endpoints a dashboard page is made of (20 requests each,
  median and max): the first and a deep page of customers, the count, a lookup by email, a filter
  by attribute, a profile, its events, the batches page;
* **plans:** ``EXPLAIN`` of the listing's queries, and whether each uses an index.

Figures are printed and written to ``--out``; it never fails because of a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench import pg, server
from bench.config import PG_ADMIN_URL_DEFAULT
from roster.services.admin import workspace_admin
from roster.services.operators import accounts
from roster.store import customer_list, migrations, raw_sql
from roster.store.customer_list import CustomerFilter
from roster.store.database import Database

CUSTOMER_COLUMNS = (
    "uid",
    "workspace_id",
    "customer_id",
    "attributes",
    "attribute_times",
    "created_at",
    "updated_at",
    "migrated",
    "events_migrated",
)
IDENTIFIER_COLUMNS = ("workspace_id", "name", "value", "uid")
EVENT_COLUMNS = ("workspace_id", "uid", "origin_uid", "name", "occurred_at", "attributes")
EVENT_COLUMNS += ("received_at", "batch_id", "can_trigger", "migrated")
CHUNK = 50_000
SMALL = 10_000
REQUESTS = 20
OPERATOR, OPERATOR_PASSWORD = "bench@example.com", "bench passphrase"


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    results: dict[str, Any] = {"customers": args.customers, "events": args.events, "stores": {}}
    for store in args.stores.split(","):
        with _database(store, args.pg_admin_url) as url:
            results["stores"][store] = _measure(store, url, args)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.browse", description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument(
        "--pg-admin-url", default=os.environ.get("ROSTER_TEST_PG_ADMIN_URL", PG_ADMIN_URL_DEFAULT)
    )
    return parser.parse_args(argv)


@contextmanager
def _database(store: str, admin_url: str) -> Iterator[str]:
    if store == "postgres":
        with pg.fresh_database(admin_url, prefix="roster_browse") as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="roster-browse-") as directory:
        yield f"sqlite:///{directory}/roster.db"


def _measure(store: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    db = Database(url)
    try:
        migrations.upgrade(db)
        small, small_key = workspace_admin.create(db, "small", default_limits="none")
        large, key = workspace_admin.create(db, "large", default_limits="none")
        workspace_admin.configure(db, large.id, identifiers=["email"])
        accounts.create(db, OPERATOR, OPERATOR_PASSWORD, "viewer")
        started = time.monotonic()
        _seed(db, small.id, 0, SMALL, 0)
        _seed(db, large.id, SMALL, args.customers, args.events)
        seeded = round(time.monotonic() - started, 1)
        plans = _plans(db, large.id)
    finally:
        db.dispose()
    found: dict[str, Any] = {"seed_seconds": seeded, "plans": plans}
    found["export_small"] = _export(url, small.id, small_key, SMALL)
    found["export_large"] = _export(url, large.id, key, args.customers)
    found["reads"] = _reads(url, large.id, key, args.customers)
    print(f"{store}: {json.dumps(found)}", flush=True)
    return found


def _seed(db: Database, workspace_id: str, first_uid: int, customers: int, events: int) -> None:
    """``customers`` customers (uids from ``first_uid + 1``) with an email each, and ``events``
    events spread evenly over them; a tenth of them on the plan ``pro``."""
    now = int(time.time() * 1000)
    for start in range(0, customers, CHUNK):
        rows, identifiers = [], []
        for n in range(start, min(start + CHUNK, customers)):
            uid = first_uid + n + 1
            email = f"c{n}@example.com"
            plan = "pro" if n % 10 == 0 else "free"
            attributes = json.dumps({"email": email, "plan": plan, "n": n})
            times = json.dumps({"email": now, "plan": now, "n": now})
            rows.append((uid, workspace_id, f"c{n}", attributes, times, now, now, False, False))
            identifiers.append((workspace_id, "email", email, uid))
        with db.write() as conn:
            raw_sql.insert_rows(conn, "customers", CUSTOMER_COLUMNS, rows)
            raw_sql.insert_rows(conn, "customer_identifiers", IDENTIFIER_COLUMNS, identifiers)
    for start in range(0, events, CHUNK):
        rows = []
        for n in range(start, min(start + CHUNK, events)):
            uid = first_uid + n % customers + 1
            at = now - n * 1000
            rows.append((workspace_id, uid, uid, "viewed", at, "{}", at, "seed", False, False))
        with db.write() as conn:
            raw_sql.insert_rows(conn, "events", EVENT_COLUMNS, rows)
    with db.write() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                sa.text("SELECT setval('customers_uid_seq', (SELECT max(uid) FROM customers))")
            )
            conn.execute(sa.text("ANALYZE"))
        else:
            conn.execute(sa.text("ANALYZE"))


def _plans(db: Database, workspace_id: str) -> dict[str, dict[str, Any]]:
    """The listing's queries as the database plans them, and whether each seeks an index."""
    queries: dict[str, Callable[[Any], Any]] = {
        "first page": lambda c: _page(c, workspace_id, CustomerFilter(), None),
        "deep page": lambda c: _page(c, workspace_id, CustomerFilter(), SMALL + 900_000),
        "count": lambda c: _count(c, workspace_id, CustomerFilter()),
        "attribute filter": lambda c: _page(
            c, workspace_id, CustomerFilter(attribute=("plan", "pro")), None
        ),
        "updated since": lambda c: _page(
            c, workspace_id, CustomerFilter(updated_since=int(time.time() * 1000)), None
        ),
    }
    found = {}
    with db.read() as conn:
        for name, build in queries.items():
            sql = str(build(conn).compile(conn, compile_kwargs={"literal_binds": True}))
            prefix = "EXPLAIN " if conn.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
            lines = [" ".join(map(str, r)) for r in conn.exec_driver_sql(prefix + sql)]
            text = "\n".join(lines)
            found[name] = {"reads": _access(text), "plan": lines}
    return found


def _access(plan: str) -> str:
    """How the plan reaches the customers: ``index seek`` (a range of an index), ``index
    walk`` (an index read in order, each row checked: bounded by the page's limit or its
    window) or ``table scan``."""
    if "Seq Scan" in plan or re.search(r"\bSCAN customers\b(?! USING)", plan):
        return "table scan"
    if "Index Cond" in plan or re.search(
        r"SEARCH customers USING \w* ?INDEX \w+ \(\w+=\? AND", plan
    ):
        return "index seek"
    return "index walk"


def _page(conn: Any, workspace_id: str, found: CustomerFilter, after: int | None) -> Any:
    return customer_list.page_query(conn, workspace_id, found, after=after, limit=100)


def _count(conn: Any, workspace_id: str, found: CustomerFilter) -> Any:
    return customer_list.count_query(conn, workspace_id, found)


def _serve(url: str, workdir: Path) -> tuple[server.Proc, str]:
    port = server.free_port()
    env = server.environment(url)
    args = ["serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)]
    proc = server.start("api", args, env, workdir)
    base = f"http://127.0.0.1:{port}"
    server.wait_healthy(proc, base)
    return proc, base


def _export(url: str, workspace_id: str, key: str, expected: int) -> dict[str, Any]:
    """One export read to the end by a fresh server, and the server's peak memory after it."""
    with tempfile.TemporaryDirectory(prefix="roster-browse-logs-") as logs:
        proc, base = _serve(url, Path(logs))
        try:
            before = server.memory_mb(proc.pid)
            started, lines = time.monotonic(), 0
            with (
                httpx.Client(base_url=base, auth=(workspace_id, key), timeout=600) as http,
                http.stream("GET", "/v1/export/customers") as response,
            ):
                response.raise_for_status()
                for block in response.iter_bytes(1 << 16):
                    lines += block.count(b"\n")
            seconds = time.monotonic() - started
            after = server.memory_mb(proc.pid)
        finally:
            server.stop(proc)
    assert lines == expected, (lines, expected)
    return {
        "customers": lines,
        "seconds": round(seconds, 1),
        "customers_per_s": round(lines / seconds),
        "rss_before_mb": before["rss_mb"],
        "peak_rss_mb": after["peak_rss_mb"],
    }


def _reads(url: str, workspace_id: str, key: str, customers: int) -> dict[str, dict[str, float]]:
    deep, some = SMALL + customers * 9 // 10, customers // 3
    recent = int(time.time()) - 60
    paths = {
        "customers, first page": "/v1/customers?limit=100",
        "customers, deep page": f"/v1/customers?limit=100&after={deep}",
        "customers, count": "/v1/customers?limit=1&count=true",
        "lookup by email": f"/v1/customers?email=c{some}@example.com",
        "filter plan=pro": "/v1/customers?attribute=plan&value=pro&limit=100",
        "filter, a value no one has (one window)": "/v1/customers?attribute=plan&value=none",
        "changed in the last minute (one window)": f"/v1/customers?updated_since={recent}",
        "profile": f"/v1/customers/c{some}",
        "events of a customer": f"/v1/customers/c{some}/events?limit=100",
        "batches": "/v1/batches?limit=50",
    }
    found = {}
    with tempfile.TemporaryDirectory(prefix="roster-browse-logs-") as logs:
        proc, base = _serve(url, Path(logs))
        try:
            with httpx.Client(base_url=base, auth=(workspace_id, key), timeout=60) as http:
                batch_id = _post_batches(http, workspace_id)
                uid = http.get(paths["profile"]).json()["uid"]
                for name, path in paths.items():
                    found[name] = _timed(http, path)
            with httpx.Client(base_url=base, timeout=60) as page:
                signed = page.post(
                    "/ui/login", data={"email": OPERATOR, "password": OPERATOR_PASSWORD}
                )
                assert signed.status_code == 303, signed.text[:200]
                ws = f"/ui/w/{workspace_id}"
                pages = {
                    "page: overview": "/ui/",
                    "page: customers": f"{ws}/customers",
                    "page: customers, deep": f"{ws}/customers?after={deep}",
                    "page: find by email": f"{ws}/customers?q=c{some}@example.com",
                    "page: attribute plan=pro": f"{ws}/customers?q=pro&by=attribute&attribute=plan",
                    "page: profile": f"{ws}/customer?uid={uid}",
                    "page: batches": f"{ws}/batches",
                    "page: batch": f"{ws}/batches/{batch_id}",
                    "page: runs": f"{ws}/runs",
                }
                for name, path in pages.items():
                    found[name] = _timed(page, path)
        finally:
            server.stop(proc)
    return found


def _post_batches(http: httpx.Client, workspace_id: str) -> str:
    """A few batches for the batch pages (queued: this server applies nothing)."""
    batch_id = ""
    for n in range(20):
        elements = [
            {"type": "device", "customer_id": f"c{n}", "device_id": f"d{n}-{i}"} for i in range(50)
        ]
        body = {"type": "transition", "elements": elements}
        sent = http.post(
            f"/v1/transition/{workspace_id}", json=body, headers={"X-Roster-Run": "bench"}
        )
        assert sent.status_code == 200, sent.text[:200]
        batch_id = sent.json()["batch_id"]
    return batch_id


def _timed(http: httpx.Client, path: str) -> dict[str, float]:
    times = []
    for _ in range(REQUESTS):
        started = time.monotonic()
        response = http.get(path)
        times.append((time.monotonic() - started) * 1000)
        assert response.status_code in (200, 303), (path, response.status_code, response.text[:200])
    return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


if __name__ == "__main__":
    raise SystemExit(main())
