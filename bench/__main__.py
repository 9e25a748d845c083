"""``python -m bench --quick|--full --out FILE [--stores sqlite,postgres] [--reps N]``.

Prints one line per store and writes the JSON results. Exits 1 when any rep of a checked stage
is wrong (the correctness cross-check) or any stage failed; never because of a speed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import (
    anchors,
    backfill,
    dataset,
    e2e,
    environment,
    loader,
    migration,
    pg,
    report,
    runner,
)
from bench.config import CONCURRENCY, FULL, PG_ADMIN_URL_DEFAULT, QUICK, Profile

STORES = ("sqlite", "postgres")
WORKLOADS = ("transition", "migration", "backfill", "load")


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--quick", action="store_true", help="20,000 elements, 2 reps")
    size.add_argument("--full", action="store_true", help="200,000 elements, 5 reps")
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON")
    parser.add_argument("--stores", default=",".join(STORES), help="comma-separated stores")
    parser.add_argument("--reps", type=int, help="rounds of every stage (overrides the profile)")
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("ROSTER_TEST_PG_ADMIN_URL", PG_ADMIN_URL_DEFAULT),
        help="a superuser URL; each rep creates and drops its own database",
    )
    parser.add_argument(
        "--sqlite-synchronous",
        choices=("FULL", "NORMAL"),
        default="FULL",
        help="ROSTER_SQLITE_SYNCHRONOUS of the server (FULL is Roster's default)",
    )
    parser.add_argument(
        "--sqlite-workers",
        choices=("processes", "threads"),
        default="processes",
        help="how `roster serve` runs its worker on SQLite: a child process "
        "(--worker-processes, the default here) or a thread of the API process (Roster's "
        "default: one process)",
    )
    parser.add_argument(
        "--stages",
        default="transition,migration,load",
        help="workloads to run: transition (MoEngage bulk import), migration (Masivo loyalty), "
        "load (`roster load` of the transition data, against the transition stage's client), "
        "backfill (Customer.io CSV people import and /v1/batch event backfill; not run by default)",
    )
    parser.add_argument("--keep-workdir", action="store_true", help="keep databases and logs")
    args = parser.parse_args(argv)
    if set(args.stages.split(",")) - set(WORKLOADS):
        parser.error(f"unknown stages: {args.stages}")
    unknown = set(args.stores.split(",")) - set(STORES)
    if unknown:
        parser.error(f"unknown store(s): {', '.join(sorted(unknown))}")
    return args


def _pg_admin(args: argparse.Namespace, stores: tuple[str, ...]) -> tuple[str | None, str | None]:
    """The admin URL to use, or ``None`` and why PostgreSQL is skipped."""
    if "postgres" not in stores:
        return None, "not requested"
    reason = pg.reachable(args.pg_admin_url)
    return (None, f"no PostgreSQL reachable ({reason})") if reason else (args.pg_admin_url, None)


def _settings_record(plan: runner.Plan, pg_info: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "server_env": {f"ROSTER_{k.upper()}": v for k, v in plan.server_settings.items()},
        "layouts": {s: e2e.LAYOUTS[s].describe() for s in plan.stores},
        "concurrency": CONCURRENCY,
        "anchor_sqlite_pragmas": anchors.SQLITE_PRAGMAS,
        "anchor_commit_rows": 1000,
        "postgres": pg_info,
    }


def _summaries(
    stores: tuple[str, ...],
    results: dict[str, list[dict[str, Any]]],
    pg_skip: str | None,
    *,
    migration: bool = False,
) -> dict[str, Any]:
    """Each store's summary of the transition workload (or of the migration)."""
    found: dict[str, Any] = {}
    for store in stores:
        if store == "postgres" and pg_skip:
            found[store] = {"skipped": pg_skip}
        elif migration:
            found[store] = report.store_summary(
                store,
                results,
                stages=report.MIGRATION[store],
                target=report.MIGRATION_TARGET_RATIO,
            )
            stage = report.MIGRATION[store][0]
            found[store]["worker_apply_by_kind"] = report.apply_by_kind(results.get(stage, []))
        else:
            found[store] = report.store_summary(store, results)
    return found


def _backfill_summaries(
    stores: tuple[str, ...], results: dict[str, list[dict[str, Any]]], pg_skip: str | None
) -> dict[str, Any]:
    """Each store's people import (per file) and event backfill."""
    found: dict[str, Any] = {}
    for store in stores:
        if store == "postgres" and pg_skip:
            found[store] = {"import": {"skipped": pg_skip}, "events": {"skipped": pg_skip}}
            continue
        found[store] = {
            "import": report.import_summary(store, results),
            "events": report.store_summary(store, results, stages=report.BACKFILL[store]),
        }
    return found


def _noisy(results: dict[str, list[dict[str, Any]]], nproc: int) -> bool:
    loads = [
        max(r["loadavg_before"][0], r["loadavg_after"][0]) for rs in results.values() for r in rs
    ]
    return any(load > nproc for load in loads)


def _run(args: argparse.Namespace, profile: Profile, workdir: Path) -> int:
    started = time.time()
    stores = tuple(s for s in STORES if s in args.stores.split(","))
    admin, pg_skip = _pg_admin(args, stores)
    data = dataset.build(profile)
    settings = {
        "sqlite_synchronous": args.sqlite_synchronous,
        "worker_processes": str(args.sqlite_workers == "processes").lower(),
    }
    workloads = tuple(args.stages.split(","))
    moved = migration.build(profile) if "migration" in workloads else None
    filled = backfill.build(profile, workdir) if "backfill" in workloads else None
    plan = runner.Plan(profile, data, workdir, stores, admin, settings, moved, workloads, filled)
    env = environment.describe(workdir)
    env["loadavg_start"] = environment.loadavg()
    pg_info = pg.server_info(admin) if admin else None
    reps = args.reps or profile.reps
    sizes = []
    if "transition" in workloads:
        sizes.append(f"transition {data.expected.elements:,} elements in {len(data.bodies)} bodies")
    if moved is not None:
        sizes.append(f"migration {moved.elements:,} elements in {moved.bodies} bodies")
    if filled is not None:
        files = ", ".join(f"{f.label} ({f.rows:,} rows)" for f in filled.files)
        sizes.append(
            f"backfill: CSV {files}, {filled.events:,} events in {len(filled.bodies)} bodies"
        )
    print(
        f"bench --{profile.name}: {'; '.join(sizes)}; {reps} reps, stores {','.join(stores)}",
        flush=True,
    )
    todo = runner.stages(plan)
    results = runner.run_rounds(todo, reps)
    env["loadavg_end"] = environment.loadavg()
    problems = runner.failures(todo, results)
    summaries = _summaries(stores, results, pg_skip) if "transition" in workloads else {}
    if moved is not None:
        summaries["migration"] = _summaries(stores, results, pg_skip, migration=True)
    if filled is not None:
        summaries["backfill"] = _backfill_summaries(stores, results, pg_skip)
    if "load" in workloads:
        summaries["load"] = {
            s: loader.summary(results.get(f"load_{s}", []), results.get(f"e2e_{s}", []))
            for s in stores
            if f"load_{s}" in results
        }
    out = {
        "profile": profile.name,
        "reps": reps,
        "started_at": started,
        "duration_s": round(time.time() - started, 1),
        "correct": not problems,
        "problems": problems,
        "noisy": _noisy(results, env["nproc"]),
        "environment": env,
        "settings": _settings_record(plan, pg_info),
        "dataset": data.summary(),
        "migration_dataset": moved.summary() if moved is not None else None,
        "backfill_dataset": filled.summary() if filled is not None else None,
        "summary": summaries,
        "runs": results,
    }
    report.write(args.out, out)
    _print(stores, summaries, results, out, args.out)
    return 0 if not problems else 1


def _print(
    stores: tuple[str, ...],
    summaries: dict[str, Any],
    results: dict[str, list[dict[str, Any]]],
    out: dict[str, Any],
    path: Path,
) -> None:
    for store in stores:
        if store in summaries:
            print(report.line(store, summaries[store]))
    for store in stores:
        if store in summaries.get("migration", {}):
            summary = summaries["migration"][store]
            print(report.line(f"migrate:{store}", summary))
            kinds = report.kinds_line(store, summary.get("worker_apply_by_kind", {}))
            if kinds:
                print(kinds)
    for store in stores:
        if store in summaries.get("backfill", {}):
            found = summaries["backfill"][store]
            for text in report.import_lines(store, found["import"]):
                print(text)
            print(report.line(f"backfill:{store}", found["events"]))
            logs = report.server_log_line(
                results, [report.IMPORT[store][0], report.BACKFILL[store][0]]
            )
            if logs:
                print(logs)
    for store, found in summaries.get("load", {}).items():
        print(loader.describe(f"load:{store}", found))
    decode = report.decode_line(results)
    if decode:
        print(decode)
    noisy = " (noisy: loadavg exceeded nproc)" if out["noisy"] else ""
    verdict = "correct" if out["correct"] else "WRONG"
    print(f"cross-check: {verdict}; {out['duration_s']}s; results in {path}{noisy}")
    for problem in out["problems"]:
        print(f"  problem: {problem}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    profile = FULL if args.full else QUICK
    workdir = Path(tempfile.mkdtemp(prefix="roster-bench-"))
    try:
        return _run(args, profile, workdir)
    finally:
        if args.keep_workdir:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
