"""The stages of a run and the round-robin loop that interleaves their reps (A B C A B C …)."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import anchors, backfill, e2e, environment, loader, migration
from bench.backfill import BackfillData
from bench.config import Profile
from bench.dataset import Dataset
from bench.migration import MigrationData

StageFn = Callable[[], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Stage:
    """One measured thing; ``check`` stages fail the run when a rep is wrong."""

    name: str
    run: StageFn
    check: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """What to run, on what, and with which server settings."""

    profile: Profile
    dataset: Dataset
    workdir: Path
    stores: tuple[str, ...]
    pg_admin_url: str | None
    server_settings: dict[str, str]
    migration: MigrationData | None = None
    #: Which workloads to run: ``transition`` (MoEngage bulk import), ``migration`` (Masivo),
    #: ``backfill`` (Customer.io people import and event backfill).
    workloads: tuple[str, ...] = ("transition", "migration")
    backfill: BackfillData | None = None


def stages(plan: Plan) -> list[Stage]:
    """Each store's end-to-end stage followed by its anchor, then the decode ceiling; then the
    migration stages, each followed by its anchor; then the backfill's."""
    found = _transition_stages(plan) if "transition" in plan.workloads else []
    if "migration" in plan.workloads and plan.migration is not None:
        found += _migration_stages(plan, plan.migration)
    if "backfill" in plan.workloads and plan.backfill is not None:
        found += _backfill_stages(plan, plan.backfill)
    if "load" in plan.workloads:
        found += _load_stages(plan)
    return found


def _load_stages(plan: Plan) -> list[Stage]:
    """Per store: ``roster load`` of the transition data set into a fresh server."""
    d, prof, wd, settings = plan.dataset, plan.profile, plan.workdir, plan.server_settings
    found: list[Stage] = []
    if "sqlite" in plan.stores:
        found.append(Stage("load_sqlite", lambda: loader.run_sqlite(d, prof, wd, settings), True))
    if "postgres" in plan.stores and plan.pg_admin_url:
        admin = plan.pg_admin_url
        found.append(
            Stage("load_postgres", lambda: loader.run_postgres(d, prof, wd, settings, admin), True)
        )
    return found


def _backfill_stages(plan: Plan, b: BackfillData) -> list[Stage]:
    """Per store: the people import and its anchor, the event backfill and its anchor."""
    prof, wd, settings = plan.profile, plan.workdir, plan.server_settings
    found: list[Stage] = []
    if "sqlite" in plan.stores:
        found += [
            Stage("imp_sqlite", lambda: backfill.run_import_sqlite(b, prof, wd, settings), True),
            Stage("LI_SQLITE", lambda: backfill.anchor_people_sqlite(b, wd)),
            Stage("bf_sqlite", lambda: backfill.run_events_sqlite(b, prof, wd, settings), True),
            Stage("LB_SQLITE", lambda: backfill.anchor_events_sqlite(b, wd)),
        ]
    if "postgres" in plan.stores and plan.pg_admin_url:
        admin = plan.pg_admin_url
        found += [
            Stage(
                "imp_postgres",
                lambda: backfill.run_import_postgres(b, prof, wd, settings, admin),
                True,
            ),
            Stage("LI_PG", lambda: backfill.anchor_people_pg(b, admin)),
            Stage(
                "bf_postgres",
                lambda: backfill.run_events_postgres(b, prof, wd, settings, admin),
                True,
            ),
            Stage("LB_PG", lambda: backfill.anchor_events_pg(b, admin)),
        ]
    return found


def _migration_stages(plan: Plan, m: MigrationData) -> list[Stage]:
    prof, wd, settings = plan.profile, plan.workdir, plan.server_settings
    found: list[Stage] = []
    if "sqlite" in plan.stores:
        found.append(Stage("mig_sqlite", lambda: migration.run_sqlite(m, prof, wd, settings), True))
        found.append(Stage("LM_SQLITE", lambda: migration.anchor_sqlite(m, wd)))
    if "postgres" in plan.stores and plan.pg_admin_url:
        admin = plan.pg_admin_url
        found.append(
            Stage(
                "mig_postgres", lambda: migration.run_postgres(m, prof, wd, settings, admin), True
            )
        )
        found.append(Stage("LM_PG", lambda: migration.anchor_pg(m, admin)))
    return found


def _transition_stages(plan: Plan) -> list[Stage]:
    d, prof, wd, settings = plan.dataset, plan.profile, plan.workdir, plan.server_settings
    found: list[Stage] = []
    if "sqlite" in plan.stores:
        found.append(Stage("e2e_sqlite", lambda: e2e.run_sqlite(d, prof, wd, settings), True))
        found.append(Stage("L_SQLITE", lambda: anchors.sqlite_insert(d.event_rows, wd)))
    if "postgres" in plan.stores and plan.pg_admin_url:
        admin = plan.pg_admin_url
        found.append(
            Stage("e2e_postgres", lambda: e2e.run_postgres(d, prof, wd, settings, admin), True)
        )
        found.append(Stage("L_PG", lambda: anchors.pg_copy(d.event_rows, admin)))
    found.append(Stage("D", lambda: anchors.decode(d.bodies)))
    return found


def _one(stage: Stage, rep: int) -> dict[str, Any]:
    """Run one rep of a stage, never raising: an exception is recorded as a failed rep."""
    before = environment.loadavg()
    started = time.perf_counter()
    try:
        result = stage.run()
        result.setdefault("ok", True)
    except Exception as exc:
        trace = traceback.format_exc(limit=4)
        result = {"ok": False, "problems": [f"{type(exc).__name__}: {exc}"], "trace": trace}
    result["rep"] = rep
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    result["loadavg_before"] = before
    result["loadavg_after"] = environment.loadavg()
    return result


def _progress(stage: Stage, rep: int, result: dict[str, Any]) -> str:
    keys = ("applied_el_s", "rows_per_s", "elements_per_s")
    figure = next((f"{k}={result[k]:,.0f}" for k in keys if k in result), "")
    figure = result.get("progress", figure)  # a stage of several sizes says each
    status = "ok" if result["ok"] else f"FAILED {result.get('problems', [])[:3]}"
    return f"  rep {rep} {stage.name:<13} {figure:<24} {result['wall_seconds']:>6.1f}s  {status}"


def run_rounds(todo: list[Stage], reps: int) -> dict[str, list[dict[str, Any]]]:
    """Every stage once per round, ``reps`` rounds; results per stage, in rep order."""
    results: dict[str, list[dict[str, Any]]] = {s.name: [] for s in todo}
    for rep in range(1, reps + 1):
        for stage in todo:
            result = _one(stage, rep)
            results[stage.name].append(result)
            print(_progress(stage, rep, result), flush=True)
    return results


def failures(todo: list[Stage], results: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Every problem of every failed rep, named by stage and rep."""
    found = []
    for stage in todo:
        for result in results[stage.name]:
            if not result["ok"]:
                found += [f"{stage.name} rep {result['rep']}: {p}" for p in result["problems"]]
    return found
