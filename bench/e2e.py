"""The end-to-end stage: real ``roster`` processes, real HTTP, until every batch is ``done``.

SQLite runs one ``roster serve --workers 1``: the API, and one worker loop that it runs as a
child process (``ROSTER_WORKER_PROCESSES=true``; ``--sqlite-workers threads`` runs it as a
thread of the API process, Roster's default).
PostgreSQL runs ``roster serve --no-worker`` and two ``roster worker`` processes. Each rep
uses a fresh database. Accepted elements/s is timed from the first request to the last 200; applied
elements/s from the first request to the last batch's ``finished_at``.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import load, pg, server, verify
from bench.config import Profile
from bench.dataset import Dataset
from bench.probe import Probe
from bench.server import Proc

WORKER_READY_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Layout:
    """Which processes serve one store."""

    serve_args: tuple[str, ...]
    workers: int

    def describe(self) -> str:
        extra = f" + {self.workers} x `roster worker`" if self.workers else ""
        return f"`roster serve {' '.join(self.serve_args)}`{extra}"


LAYOUTS = {"sqlite": Layout(("--workers", "1"), 0), "postgres": Layout(("--no-worker",), 2)}


#: What a stage measures once Roster runs: ``(processes, probe, base URL, tenant) -> figures``.
Measure = Callable[[list[Proc], Probe, str, server.Tenant], dict[str, Any]]


def on_sqlite(workdir: Path, settings: dict[str, str], measure: Measure) -> dict[str, Any]:
    """One rep of ``measure`` on a fresh SQLite file (deleted afterwards)."""
    path = workdir / f"e2e-{time.monotonic_ns()}.db"
    try:
        return _run(f"sqlite:///{path}", LAYOUTS["sqlite"], workdir, settings, measure)
    finally:
        for leftover in path.parent.glob(path.name + "*"):
            leftover.unlink()


def on_postgres(
    workdir: Path, settings: dict[str, str], admin_url: str, measure: Measure
) -> dict[str, Any]:
    """One rep of ``measure`` on a freshly created PostgreSQL database (dropped afterwards)."""
    with pg.fresh_database(admin_url) as url:
        return _run(url, LAYOUTS["postgres"], workdir, settings, measure)


def run_sqlite(
    dataset: Dataset, profile: Profile, workdir: Path, settings: dict[str, str]
) -> dict[str, Any]:
    """One rep of the transition stage on SQLite."""
    return on_sqlite(workdir, settings, _measuring(dataset, profile))


def run_postgres(
    dataset: Dataset, profile: Profile, workdir: Path, settings: dict[str, str], admin_url: str
) -> dict[str, Any]:
    """One rep of the transition stage on PostgreSQL."""
    return on_postgres(workdir, settings, admin_url, _measuring(dataset, profile))


def _measuring(dataset: Dataset, profile: Profile) -> Measure:
    return lambda procs, probe, base_url, tenant: _measure(
        procs, probe, base_url, tenant, dataset, profile
    )


def wait_worker_ready(proc: Proc) -> None:
    """A ``roster worker`` is ready once it has logged ``worker.started``."""
    deadline = time.monotonic() + WORKER_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.role} exited:\n{proc.log_tail()}")
        if "worker.started" in proc.log.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{proc.role} did not start:\n{proc.log_tail()}")


def _start_all(
    layout: Layout, env: dict[str, str], workdir: Path, procs: list[Proc]
) -> tuple[str, server.Tenant]:
    port = server.free_port()
    base_url = f"http://127.0.0.1:{port}"
    args = ["serve", "--host", "127.0.0.1", "--port", str(port), *layout.serve_args]
    api = server.start("api", args, env, workdir)
    procs.append(api)
    server.wait_healthy(api, base_url)
    tenant = server.create_workspace(env)
    for n in range(layout.workers):
        procs.append(server.start(f"worker-{n + 1}", ["worker"], env, workdir))
    for proc in procs if "--no-worker" not in layout.serve_args else procs[1:]:
        wait_worker_ready(proc)
    return base_url, tenant


def _run(
    url: str, layout: Layout, workdir: Path, settings: dict[str, str], measure: Measure
) -> dict[str, Any]:
    env = server.environment(url, **settings)
    procs: list[Proc] = []
    try:
        base_url, tenant = _start_all(layout, env, workdir, procs)
        probe = Probe(url, tenant.id)
        try:
            return measure(procs, probe, base_url, tenant)
        finally:
            probe.close()
    finally:
        for proc in reversed(procs):
            server.stop(proc)


def applied_lines(proc: Proc) -> list[dict[str, Any]]:
    """The ``batch.applied`` lines a process logged, in order (JSON lines)."""
    lines = []
    for text in proc.log.read_text(errors="replace").splitlines():
        if '"batch.applied"' in text:
            try:
                lines.append(json.loads(text))
            except ValueError:
                continue
    return lines


def rates(posted: load.LoadResult, done: dict[str, Any]) -> dict[str, Any]:
    """Accepted and applied elements per second: from the first request to the last accepted,
    and to the ``finished_at`` of the last batch done (``done``: the ledger's done figures)."""
    applied_s = max(done.get("done_max", 0) / 1000 - posted.started_at, 1e-9)
    return {
        "accepted_el_s": posted.summary()["accepted_el_s"],
        "applied_el_s": round(done.get("applied", 0) / applied_s, 1),
        "applied_seconds": round(applied_s, 3),
    }


def apply_log(procs: list[Proc]) -> dict[str, Any]:
    """Per-batch apply times the workers logged (``batch.applied``, JSON lines)."""
    ms = [float(line.get("ms", 0.0)) for proc in procs for line in applied_lines(proc)]
    if not ms:
        return {"batches_logged": 0}
    ms.sort()
    return {
        "batches_logged": len(ms),
        "apply_ms_sum": round(sum(ms), 1),
        "apply_ms_p50": round(statistics.median(ms), 1),
        "apply_ms_p99": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 1),
    }


def _measure(
    procs: list[Proc],
    probe: Probe,
    base_url: str,
    tenant: server.Tenant,
    dataset: Dataset,
    profile: Profile,
) -> dict[str, Any]:
    """Post everything, wait for the drain, read memory, then cross-check the store."""
    memory_start = {k: v for p in procs for k, v in server.memory_of(p.role, p.pid).items()}
    path = f"/v1/transition/{tenant.id}"
    posted = load.post_all(
        base_url, path, tenant.auth, dataset.bodies, dataset.element_counts, profile.post_cap_s
    )
    _, backlog = probe.progress()
    drained = probe.wait_drained(posted.ok, profile.drain_cap_s)
    live = [p for p in procs if p.popen.poll() is None]
    memory = {k: v for p in live for k, v in server.memory_of(p.role, p.pid).items()}
    check = verify.cross_check(probe, posted, dataset, base_url, tenant.auth)
    problems = list(check["problems"])
    if not drained:
        problems.insert(0, f"queue not drained within {profile.drain_cap_s}s")
    problems += [f"{p.role} exited early" for p in procs if p.popen.poll() is not None]
    found = figures(posted, check, backlog, memory_start, memory, problems)
    found["worker_log"] = apply_log(procs)
    return found


def figures(
    posted: load.LoadResult,
    check: dict[str, Any],
    backlog: int,
    memory_start: dict[str, dict[str, float]],
    memory: dict[str, dict[str, float]],
    problems: list[str],
) -> dict[str, Any]:
    """A rep's figures: rates (to the last accept and to the last ``done`` of
    ``check["ledger"]``), the queue at the last accept, memory, the load and the store
    (``check``: ``counts``, ``ledger`` and ``issues`` read from it)."""
    return {
        "ok": not problems,
        "problems": problems,
        **rates(posted, check["ledger"].get("done", {})),
        "backlog_batches_at_last_accept": backlog,
        "peak_rss_mb": max((m.get("peak_rss_mb", 0.0) for m in memory.values()), default=0.0),
        "memory_mb": memory,
        "memory_mb_after_start": memory_start,
        "load": posted.summary(),
        "store": {k: check[k] for k in ("counts", "ledger", "issues")},
    }
