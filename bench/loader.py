"""The ``roster load`` stage: the transition data set as one JSON lines file, loaded into a
running Roster by a real ``roster load`` process, as a user would.

Per rep, on a fresh store (the same processes as the transition stage):

1. ``roster load transition data.jsonl`` waits for the run to be applied; the applied rate is
   the elements over the time from the loader's start to the last batch's ``finished_at``
   (the transition stage's rate, measured with the bench's own HTTP client, is the yardstick);
2. ``roster load transition data10.jsonl --no-wait`` sends a file ten times larger (the same
   elements, ten times over), to show the loader's memory does not grow with its input.

The loader's peak RSS is its own high-water mark (``VmHWM``), never the server's.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import msgspec

from bench import e2e, server
from bench.config import Profile
from bench.dataset import Dataset
from bench.probe import Probe
from bench.server import Proc

_decode = msgspec.json.decode


def files(dataset: Dataset, workdir: Path) -> tuple[Path, Path]:
    """The data set as JSON lines, and the same ten times over (written once per run)."""
    one, ten = workdir / "load-1x.jsonl", workdir / "load-10x.jsonl"
    if not one.exists():
        with one.open("wb") as out:
            for body in dataset.bodies:
                for element in _decode(body)["elements"]:
                    out.write(msgspec.json.encode(element) + b"\n")
        with ten.open("wb") as out:
            for _ in range(10):
                with one.open("rb") as source:
                    while block := source.read(1 << 20):
                        out.write(block)
    return one, ten


def run_sqlite(
    dataset: Dataset, profile: Profile, workdir: Path, settings: dict[str, str]
) -> dict[str, Any]:
    return e2e.on_sqlite(workdir, settings, _measuring(dataset, profile, workdir))


def run_postgres(
    dataset: Dataset, profile: Profile, workdir: Path, settings: dict[str, str], admin_url: str
) -> dict[str, Any]:
    return e2e.on_postgres(workdir, settings, admin_url, _measuring(dataset, profile, workdir))


def _measuring(dataset: Dataset, profile: Profile, workdir: Path) -> e2e.Measure:
    def measure(procs: list[Proc], probe: Probe, base_url: str, tenant: server.Tenant) -> Any:
        return _measure(procs, probe, base_url, tenant, dataset, profile, workdir)

    return measure


def _loader(
    base_url: str, tenant: server.Tenant, path: Path, workdir: Path, run: str, *extra: str
) -> tuple[int, float, float]:
    """Run ``roster load``; its exit status, wall seconds and peak RSS (MB)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROSTER_")}
    env.update(ROSTER_URL=base_url, ROSTER_WORKSPACE=tenant.id, ROSTER_KEY=tenant.key)
    args = ["load", "transition", str(path), "--run", run, "--state-dir", str(workdir / run)]
    args += ["--report", str(workdir / f"{run}.csv"), *extra]
    started = time.monotonic()
    peak = 0.0
    with (workdir / f"{run}.log").open("wb") as log:
        popen = subprocess.Popen(
            server.roster_command(*args), env=env, cwd=workdir, stdout=log, stderr=log
        )
        # Its own high-water mark, read while it runs: a child's rusage would also count the
        # bench's pages it shared between fork and exec.
        while popen.poll() is None:
            with contextlib.suppress(OSError, KeyError):  # it may end between poll and read
                peak = max(peak, server.memory_mb(popen.pid)["peak_rss_mb"])
            time.sleep(0.05)
    return popen.returncode, time.monotonic() - started, peak


def _measure(
    procs: list[Proc],
    probe: Probe,
    base_url: str,
    tenant: server.Tenant,
    dataset: Dataset,
    profile: Profile,
    workdir: Path,
) -> dict[str, Any]:
    one, ten = files(dataset, workdir)
    run = f"bench-{time.monotonic_ns()}"
    started = time.time()
    code, seconds, rss = _loader(base_url, tenant, one, workdir, run)
    ledger = probe.ledger().get("done", {})
    elements = dataset.expected.elements
    problems = []
    if code not in (0, 1):
        problems.append(f"roster load exited {code}: {(workdir / f'{run}.log').read_text()[-500:]}")
    if ledger.get("elements", 0) != elements:
        problems.append(f"{ledger.get('elements', 0)} elements done, {elements} in the file")
    applied_s = max(ledger.get("done_max", 0) / 1000 - started, 1e-9)
    big = f"{run}-10x"
    code10, seconds10, rss10 = _loader(base_url, tenant, ten, workdir, big, "--no-wait")
    if code10 != 0:
        problems.append(f"roster load (10x, --no-wait) exited {code10}")
    return {
        "ok": not problems,
        "problems": problems,
        "applied_el_s": round(ledger.get("applied", 0) / applied_s, 1),
        "applied_seconds": round(applied_s, 3),
        "loader_seconds": round(seconds, 3),
        "loader_peak_rss_mb": round(rss, 1),
        "loader_10x_accepted_el_s": round(10 * elements / max(seconds10, 1e-9), 1),
        "loader_10x_peak_rss_mb": round(rss10, 1),
        "file_bytes": one.stat().st_size,
        "file_10x_bytes": ten.stat().st_size,
        "ledger": ledger,
        "server_log": e2e.apply_log(procs),
        "report_rows": _rows(workdir / f"{run}.csv"),
        "profile": profile.name,
    }


def _rows(path: Path) -> int:
    if not path.exists():
        return -1
    with path.open(encoding="utf-8") as f:
        return sum(1 for _ in f) - 1


def summary(loads: list[dict[str, Any]], clients: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of the loader's reps, and its applied rate over the bench client's."""
    good = [r for r in loads if r.get("ok")]
    if not good:
        return {"ok": False}

    def median(key: str, rows: list[dict[str, Any]]) -> float:
        values = sorted(float(r[key]) for r in rows if key in r)
        return values[len(values) // 2] if values else 0.0

    loader = median("applied_el_s", good)
    client = median("applied_el_s", [r for r in clients if r.get("ok")])
    return {
        "ok": True,
        "loader_applied_el_s": loader,
        "client_applied_el_s": client,
        "loader_over_client": round(loader / client, 2) if client else None,
        "loader_peak_rss_mb": median("loader_peak_rss_mb", good),
        "loader_10x_peak_rss_mb": median("loader_10x_peak_rss_mb", good),
        "file_mb": round(good[0]["file_bytes"] / 1e6, 1),
        "file_10x_mb": round(good[0]["file_10x_bytes"] / 1e6, 1),
    }


def describe(name: str, s: dict[str, Any]) -> str:
    if not s.get("ok"):
        return f"{name}: no good rep"
    return (
        f"{name} applied={s['loader_applied_el_s']:,.0f} el/s  "
        f"client={s['client_applied_el_s']:,.0f} el/s  loader/client={s['loader_over_client']}  "
        "loader peak_rss="
        f"{s['loader_peak_rss_mb']} MB ({s['file_mb']} MB file), "
        f"{s['loader_10x_peak_rss_mb']} MB ({s['file_10x_mb']} MB file)"
    )
