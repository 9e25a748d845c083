"""Profile the worker path: ``python -m bench.profile_drain --store sqlite|postgres``.

The bodies of the data set are pre-enqueued through the API (in process, over httpx's ASGI
transport; untimed), then ``Worker.run_once()`` drains the queue in a loop. The drain is timed
once plain (stage (b) of BENCHMARK.md) and once more, on a fresh store, under ``cProfile``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench import dataset, pg, server
from bench.config import PG_ADMIN_URL_DEFAULT, QUICK, Profile
from roster import logs
from roster.api.app import create_app
from roster.bootstrap import Container, worker_database
from roster.services.admin import workspace_admin
from roster.services.worker.loop import Worker
from roster.settings import Settings
from roster.store import batch_reads, migrations
from roster.store.database import Database


@contextmanager
def _store(store: str, workdir: Path, admin_url: str) -> Iterator[str]:
    """A fresh, migrated database URL for one drain."""
    if store == "postgres":
        with pg.fresh_database(admin_url, prefix="roster_profile") as url:
            yield url
    else:
        yield f"sqlite:///{workdir / f'drain-{time.monotonic_ns()}.db'}"


def _enqueue(container: Container, data: dataset.Dataset) -> str:
    """Create a workspace and post every body through the API; return the workspace id."""
    ws, key = workspace_admin.create(container.db, "profile", default_limits="none")
    tenant = server.Tenant(ws.id, key)
    headers = {**tenant.auth, "Content-Type": "application/json"}

    async def post_all() -> None:
        transport = httpx.ASGITransport(app=create_app(container))
        async with httpx.AsyncClient(transport=transport, base_url="http://roster") as client:
            for body in data.bodies:
                response = await client.post(
                    f"/v1/transition/{ws.id}", content=body, headers=headers
                )
                response.raise_for_status()

    asyncio.run(post_all())
    return ws.id


def _drain(worker: Worker) -> int:
    batches = 0
    while worker.run_once():
        batches += 1
    return batches


def drain_once(url: str, data: dataset.Dataset, profiler: cProfile.Profile | None) -> float:
    """Elements/s of one drain of the whole data set on the store at ``url``."""
    settings = Settings(database_url=url, log_level="warning")
    logs.configure(settings.log_level)
    db = Database(url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        migrations.upgrade(db)
        container = Container(settings, db)
        _enqueue(container, data)
        worker = Worker(worker_database(container), settings, name="bench-profile")
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        batches = _drain(worker)
        if profiler is not None:
            profiler.disable()
        elapsed = time.perf_counter() - started
    finally:
        db.dispose()
    with Database(url).read() as conn:  # every batch applied (one `run_once` may apply several)
        assert not batch_reads.backlog(conn), "the drain left batches unfinished"
    assert batches >= 1
    return data.expected.elements / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_drain", description=__doc__)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--elements", type=int, default=QUICK.elements)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL_DEFAULT)
    parser.add_argument("--out", type=Path, help="write the pstats file here")
    args = parser.parse_args(argv)
    profile = Profile("profile", args.elements, max(1, args.elements // 10), 1, 0, 0)
    data = dataset.build(profile)
    with tempfile.TemporaryDirectory(prefix="roster-profile-") as tmp:
        with _store(args.store, Path(tmp), args.pg_admin_url) as url:
            plain = drain_once(url, data, None)
        profiler = cProfile.Profile()
        with _store(args.store, Path(tmp), args.pg_admin_url) as url:
            profiled = drain_once(url, data, profiler)
    print(f"{args.store}: drain {plain:,.0f} el/s plain, {profiled:,.0f} el/s under cProfile")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    if args.out:
        stats.dump_stats(args.out)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
