"""Many workspaces and many workers (issue 18): ``python -m bench.fleet``.

    python -m bench.fleet --full --reps 2 --out bench/results-fleet.json
    python -m bench.fleet --quick --stages fairness --stores sqlite --out /tmp/fleet.json

Two stages, each against the raw insert limit of the transition data's event rows measured in
the same run (``anchors.sqlite_insert`` / ``anchors.pg_copy``, interleaved with them):

* **fairness** (both stores): the transition data set is posted by ``F`` flooding workspaces at
  once (its bodies dealt round robin), ``F`` in ``FLOODERS``, first alone, then while one more
  workspace posts two elements every half second until the flood has drained. It reports the
  light workspace's batches' time from acceptance to done (p50, p95, max) and the flooders'
  applied el/s, alone and beside it (the drop is their ratio). SQLite runs ``roster serve
  --workers 2`` with worker processes; PostgreSQL ``roster serve --no-worker`` and two
  ``roster worker``.
* **scaleout** (PostgreSQL): the same data set posted to one workspace, and dealt to eight,
  applied by an API and 1, 2 and 4 ``roster worker`` processes.

Every run starts on a fresh database and checks that every batch ended ``done`` with every
element applied; a wrong run fails the command (exit 1), a slow one never does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench import anchors, dataset, e2e, environment, pg, server
from bench.config import FULL, PG_ADMIN_URL_DEFAULT, QUICK, Profile
from roster.store.database import normalise_url

FLOODERS = (2, 8)
SCALE_WORKSPACES = (1, 8)
SCALE_WORKERS = (1, 2, 4)
#: The workers of the fairness stage, as the issue measured it.
FAIR_WORKERS = 2
#: Requests in flight per flooding workspace (the transition stage's client has 4 in all).
IN_FLIGHT = 2
LIGHT_EVERY_S = 0.5
LIGHT_ELEMENTS = 2
POLL_S = 0.1

Deal = list[list[tuple[bytes, int]]]


def deal(bodies: Sequence[bytes], counts: Sequence[int], hands: int) -> Deal:
    """The bodies dealt round robin to ``hands`` workspaces, with their element counts."""
    dealt: Deal = [[] for _ in range(hands)]
    for n, (body, count) in enumerate(zip(bodies, counts, strict=True)):
        dealt[n % hands].append((body, count))
    return dealt


@contextmanager
def _database(store: str, workdir: Path, admin_url: str | None) -> Iterator[str]:
    if store == "postgres":
        assert admin_url is not None
        with pg.fresh_database(admin_url, prefix="roster_fleet") as url:
            yield url
    else:
        path = workdir / f"fleet-{time.monotonic_ns()}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for leftover in path.parent.glob(path.name + "*"):
                leftover.unlink()


@contextmanager
def _roster(
    store: str, url: str, workers: int, workdir: Path, settings: dict[str, str]
) -> Iterator[tuple[str, dict[str, str], list[server.Proc]]]:
    """The processes: SQLite ``roster serve --workers N`` with worker processes; PostgreSQL
    ``roster serve --no-worker`` and N ``roster worker``. Yields the base URL and env."""
    extra = {"worker_processes": "true"} if store == "sqlite" else {}
    env = server.environment(url, **extra, **settings)
    port = server.free_port()
    base_url = f"http://127.0.0.1:{port}"
    serve = ["--workers", str(workers)] if store == "sqlite" else ["--no-worker"]
    procs: list[server.Proc] = []
    try:
        procs.append(
            server.start(
                "api", ["serve", "--host", "127.0.0.1", "--port", str(port), *serve], env, workdir
            )
        )
        server.wait_healthy(procs[0], base_url)
        if store == "postgres":
            for n in range(workers):
                procs.append(server.start(f"worker-{n + 1}", ["worker"], env, workdir))
        for proc in procs[1:] if store == "postgres" else procs:
            e2e.wait_worker_ready(proc)
        yield base_url, env, procs
    finally:
        for proc in reversed(procs):
            server.stop(proc)


async def _flood(
    base_url: str, hands: list[tuple[server.Tenant, list[tuple[bytes, int]]]], cap_s: float
) -> dict[str, Any]:
    """Post each workspace's bodies in order, ``IN_FLIGHT`` at a time per workspace."""
    deadline = time.monotonic() + cap_s
    sent = {"ok": 0, "failed": 0, "errors": []}  # type: dict[str, Any]
    limits = httpx.Limits(max_connections=IN_FLIGHT * len(hands))

    async def one(
        client: httpx.AsyncClient, tenant: server.Tenant, queue: Iterator[tuple[bytes, int]]
    ) -> None:
        headers = {**tenant.auth, "Content-Type": "application/json"}
        for body, _ in queue:
            if time.monotonic() > deadline:
                sent["errors"].append("posting cut by its cap")
                return
            response = await client.post(
                f"/v1/transition/{tenant.id}", content=body, headers=headers
            )
            if response.status_code == 200:
                sent["ok"] += 1
            else:
                sent["failed"] += 1
                sent["errors"] = [*sent["errors"], response.text[:200]][:5]

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120.0) as client:
        loops = []
        for tenant, bodies in hands:
            shared = iter(bodies)
            loops += [one(client, tenant, shared) for _ in range(IN_FLIGHT)]
        await asyncio.gather(*loops)
    return sent


class LightSender(threading.Thread):
    """Posts ``LIGHT_ELEMENTS`` elements every ``LIGHT_EVERY_S`` until stopped (bounded)."""

    def __init__(self, base_url: str, tenant: server.Tenant, most: int) -> None:
        super().__init__(name="light", daemon=True)
        self.base_url, self.tenant, self.most = base_url, tenant, most
        self.stop = threading.Event()
        self.ids: list[str] = []
        self.errors: list[str] = []

    def run(self) -> None:
        headers = {**self.tenant.auth, "Content-Type": "application/json"}
        with httpx.Client(base_url=self.base_url, timeout=30.0) as http:
            for n in range(self.most):
                if self.stop.is_set():
                    return
                elements = [
                    {
                        "type": "event",
                        "customer_id": f"light-{n}-{i}",
                        "actions": [{"action": "ping"}],
                    }
                    for i in range(LIGHT_ELEMENTS)
                ]
                body = json.dumps({"type": "transition", "elements": elements})
                response = http.post(
                    f"/v1/transition/{self.tenant.id}", content=body, headers=headers
                )
                if response.status_code == 200:
                    self.ids.append(response.json()["batch_id"])
                else:
                    self.errors.append(response.text[:200])
                self.stop.wait(LIGHT_EVERY_S)


def _ledger(url: str) -> list[Any]:
    engine = sa.create_engine(normalise_url(url), poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    sa.text(
                        "SELECT workspace_id, status, element_count, applied, accepted_at, "
                        "finished_at FROM batches"
                    )
                )
            )
    finally:
        engine.dispose()


def _wait_drained(url: str, batches: int, cap_s: float) -> bool:
    engine = sa.create_engine(normalise_url(url), poolclass=sa.NullPool)
    query = sa.text(
        "SELECT count(*), coalesce(sum(CASE WHEN status IN ('queued', 'processing') THEN 1 "
        "ELSE 0 END), 0) FROM batches"
    )
    deadline = time.monotonic() + cap_s
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                total, unfinished = conn.execute(query).one()
            if total >= batches and unfinished == 0:
                return True
            time.sleep(POLL_S)
        return False
    finally:
        engine.dispose()


def _run_fleet(
    store: str,
    url: str,
    workdir: Path,
    settings: dict[str, str],
    *,
    workers: int,
    hands: Deal,
    light: bool,
    profile: Profile,
) -> dict[str, Any]:
    """One run: the flood from ``len(hands)`` workspaces (and a light sender), until drained."""
    with _roster(store, url, workers, workdir, settings) as (base_url, env, procs):
        flooders = [server.create_workspace(env, f"flood-{n}") for n in range(len(hands))]
        sender = None
        if light:
            most = int(profile.drain_cap_s / LIGHT_EVERY_S)
            sender = LightSender(base_url, server.create_workspace(env, "light"), most)
            sender.start()
        started = time.time()
        sent = asyncio.run(
            _flood(base_url, list(zip(flooders, hands, strict=True)), profile.post_cap_s)
        )
        drained = _wait_drained(url, sent["ok"], profile.drain_cap_s)
        if sender is not None:
            sender.stop.set()
            sender.join(30)
            _wait_drained(url, 0, profile.drain_cap_s)
        memory = {k: v for p in procs for k, v in server.memory_of(p.role, p.pid).items()}
    rows = _ledger(url)
    light_ids = {sender.tenant.id} if sender is not None else set()
    flood_rows = [r for r in rows if r.workspace_id not in light_ids]
    light_rows = [r for r in rows if r.workspace_id in light_ids]
    problems = list(sent["errors"])
    if not drained:
        problems.append(f"queue not drained within {profile.drain_cap_s}s")
    expected = sum(c for hand in hands for _, c in hand)
    applied = sum(r.applied for r in flood_rows)
    if sent["failed"] or applied != expected or any(r.status != "done" for r in rows):
        problems.append(f"flood: {applied} of {expected} applied, {sent['failed']} refused")
    last = max((r.finished_at or 0 for r in flood_rows), default=0) / 1000
    found: dict[str, Any] = {
        "ok": not problems,
        "problems": problems,
        "flood_applied_el_s": round(applied / max(last - started, 1e-9), 1),
        "flood_batches": len(flood_rows),
        "peak_rss_mb": max((m.get("peak_rss_mb", 0.0) for m in memory.values()), default=0.0),
    }
    if sender is not None:
        waits = sorted((r.finished_at - r.accepted_at) / 1000 for r in light_rows if r.finished_at)
        found["light_seconds"] = waits
        found["light_batches"] = len(light_rows)
        if sender.errors or len(waits) != len(light_rows) or not waits:
            problems.append(f"light: {len(waits)} of {len(light_rows)} done, {sender.errors[:2]}")
            found["ok"] = False
    return found


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


Stage = tuple[str, Callable[[], dict[str, Any]]]


def stages(
    names: Sequence[str],
    stores: Sequence[str],
    data: dataset.Dataset,
    profile: Profile,
    workdir: Path,
    admin_url: str | None,
    settings: dict[str, str],
) -> list[Stage]:
    """Every (stage, configuration) as a named run, with each store's anchor."""
    found: list[Stage] = []

    def run(store: str, **kw: Any) -> Callable[[], dict[str, Any]]:
        def go() -> dict[str, Any]:
            with _database(store, workdir, admin_url) as url:
                return _run_fleet(store, url, workdir, settings, profile=profile, **kw)

        return go

    if "fairness" in names:
        for store in stores:
            for f in FLOODERS:
                hands = deal(data.bodies, data.element_counts, f)
                for light in (False, True):
                    name = f"fair_{store}_f{f}_{'light' if light else 'alone'}"
                    found.append((name, run(store, workers=FAIR_WORKERS, hands=hands, light=light)))
    if "scaleout" in names and "postgres" in stores:
        for ws in SCALE_WORKSPACES:
            hands = deal(data.bodies, data.element_counts, ws)
            for w in SCALE_WORKERS:
                found.append(
                    (f"scale_ws{ws}_w{w}", run("postgres", workers=w, hands=hands, light=False))
                )
    if "sqlite" in stores and "fairness" in names:
        found.append(("L_SQLITE", lambda: anchors.sqlite_insert(data.event_rows, workdir)))
    if "postgres" in stores and admin_url:
        found.append(("L_PG", lambda: anchors.pg_copy(data.event_rows, admin_url)))
    return found


def summarise(results: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians per run, the light workspace's waits pooled over reps, and the ratios."""

    def med(name: str, key: str) -> float | None:
        values = [r[key] for r in results.get(name, []) if r.get("ok") and key in r]
        return round(statistics.median(values), 1) if values else None

    anchors_ = {"sqlite": med("L_SQLITE", "rows_per_s"), "postgres": med("L_PG", "rows_per_s")}
    summary: dict[str, Any] = {"anchor_rows_s": anchors_}
    for name in results:
        if name.startswith("fair_") and name.endswith("_light"):
            alone = name.removesuffix("_light") + "_alone"
            store = name.split("_")[1]
            waits = [w for r in results[name] if r.get("ok") for w in r["light_seconds"]]
            with_light, without = med(name, "flood_applied_el_s"), med(alone, "flood_applied_el_s")
            summary[name.removesuffix("_light")] = {
                "light_batches": len(waits),
                "light_p50_s": round(percentile(waits, 0.5), 3),
                "light_p95_s": round(percentile(waits, 0.95), 3),
                "light_max_s": round(max(waits, default=0.0), 3),
                "flood_el_s_alone": without,
                "flood_el_s_with_light": with_light,
                "flood_kept": round(with_light / without, 3) if with_light and without else None,
                "flood_ratio_alone": _ratio(without, anchors_[store]),
            }
        elif name.startswith("scale_"):
            el_s = med(name, "flood_applied_el_s")
            summary[name] = {
                "applied_el_s": el_s,
                "ratio": _ratio(el_s, anchors_["postgres"]),
                "peak_rss_mb": med(name, "peak_rss_mb"),
            }
    return summary


def _ratio(value: float | None, anchor: float | None) -> float | None:
    return round(value / anchor, 3) if value and anchor else None


def report_lines(summary: dict[str, Any]) -> list[str]:
    lines = [f"anchors (rows/s): {summary['anchor_rows_s']}"]
    for name, block in summary.items():
        if name.startswith("fair_"):
            lines.append(
                f"{name}: light p50 {block['light_p50_s']} s, p95 {block['light_p95_s']} s, "
                f"max {block['light_max_s']} s ({block['light_batches']} batches); flooders "
                f"{block['flood_el_s_alone']} el/s alone, {block['flood_el_s_with_light']} beside "
                f"it (kept {block['flood_kept']}); ratio alone {block['flood_ratio_alone']}"
            )
        elif name.startswith("scale_"):
            lines.append(
                f"{name}: {block['applied_el_s']} el/s, ratio {block['ratio']}, "
                f"peak RSS {block['peak_rss_mb']} MB"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fleet", description=__doc__.split("\n\n")[0]
    )
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--quick", action="store_true", help="20,000 elements")
    size.add_argument("--full", action="store_true", help="200,000 elements")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--stages", default="fairness,scaleout")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument(
        "--pg-admin-url", default=os.environ.get("ROSTER_TEST_PG_ADMIN_URL", PG_ADMIN_URL_DEFAULT)
    )
    args = parser.parse_args(argv)
    profile = FULL if args.full else QUICK
    stores = tuple(args.stores.split(","))
    admin_url = (
        args.pg_admin_url if "postgres" in stores and not pg.reachable(args.pg_admin_url) else None
    )
    if "postgres" in stores and admin_url is None:
        print("PostgreSQL not reachable: its runs are skipped")
        stores = tuple(s for s in stores if s != "postgres")
    data = dataset.build(profile)
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="roster-fleet-") as tmp:
        workdir = Path(tmp)
        todo = stages(args.stages.split(","), stores, data, profile, workdir, admin_url, {})
        for rep in range(1, args.reps + 1):
            for name, run in todo:
                began = time.perf_counter()
                try:
                    result = run()
                    result.setdefault("ok", True)
                except Exception as exc:  # a failed run is recorded, the others go on
                    result = {"ok": False, "problems": [f"{type(exc).__name__}: {exc}"]}
                result["rep"], result["wall_s"] = rep, round(time.perf_counter() - began, 1)
                results.setdefault(name, []).append(result)
                figure = result.get("flood_applied_el_s", result.get("rows_per_s", ""))
                status = "ok" if result.get("ok") else f"FAILED {result.get('problems')}"
                print(
                    f"  rep {rep} {name:<28} {figure:>10} {result['wall_s']:>6}s {status}",
                    flush=True,
                )
        environment_ = environment.describe(workdir)
    summary = summarise(results)
    for text in report_lines(summary):
        print(text)
    out = {
        "environment": environment_,
        "profile": profile.name,
        "summary": summary,
        "runs": results,
    }
    args.out.write_text(json.dumps(out, indent=1, default=str))
    failed = [n for n, reps in results.items() for r in reps if not r.get("ok")]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
