"""Medians, ratios, the one-line-per-store summary and the JSON results."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TARGET_RATIO = 0.5
TARGET_PEAK_RSS_MB = 300.0
ANCHOR_OF = {"sqlite": "L_SQLITE", "postgres": "L_PG"}
#: The migration stage (issue 3): its end-to-end stage, its anchor, its target ratio.
MIGRATION = {"sqlite": ("mig_sqlite", "LM_SQLITE"), "postgres": ("mig_postgres", "LM_PG")}
MIGRATION_TARGET_RATIO = 0.4
#: The backfill stage: the people import (per file size) and the event backfill, each with its
#: anchor; the import's targets: a ratio, a peak RSS, and a peak RSS that does not grow with
#: the file (the larger file's peak at most this many times the smaller's, per process).
IMPORT = {"sqlite": ("imp_sqlite", "LI_SQLITE"), "postgres": ("imp_postgres", "LI_PG")}
BACKFILL = {"sqlite": ("bf_sqlite", "LB_SQLITE"), "postgres": ("bf_postgres", "LB_PG")}
IMPORT_TARGET_RATIO = 0.5
RSS_GROWTH_AT_MOST = 1.2


def stats(values: Sequence[float]) -> dict[str, Any] | None:
    """Median, min and max of the reps (``None`` when there is none)."""
    if not values:
        return None
    return {
        "median": round(statistics.median(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
        "reps": [round(v, 1) for v in values],
    }


def _ok(reps: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in reps if r.get("ok")]


def store_summary(
    store: str,
    runs: dict[str, list[dict[str, Any]]],
    *,
    stages: tuple[str, str] | None = None,
    target: float = TARGET_RATIO,
) -> dict[str, Any]:
    """The figures of one store: stage and anchor medians, the ratio, memory and the targets
    (``stages``: the end-to-end stage and its anchor, by default the transition's)."""
    e2e_name, anchor_name = stages or (f"e2e_{store}", ANCHOR_OF[store])
    e2e = _ok(runs.get(e2e_name, []))
    anchor = _ok(runs.get(anchor_name, []))
    applied = [r["applied_el_s"] for r in e2e]
    raw = [r["rows_per_s"] for r in anchor]
    raw_by_rep = {r["rep"]: r["rows_per_s"] for r in anchor}
    paired = [r["applied_el_s"] / raw_by_rep[r["rep"]] for r in e2e if r["rep"] in raw_by_rep]
    ratio = statistics.median(applied) / statistics.median(raw) if applied and raw else None
    peak = max((r["peak_rss_mb"] for r in e2e), default=None)
    return {
        "accepted_el_s": stats([r["accepted_el_s"] for r in e2e]),
        "applied_el_s": stats(applied),
        "raw_rows_s": stats(raw),
        "ratio_applied_raw": None if ratio is None else round(ratio, 3),
        "paired_ratio_median": round(statistics.median(paired), 3) if paired else None,
        "peak_rss_mb": peak,
        "peak_rss_mb_by_process": _peak_by_process(e2e),
        "backlog_batches_at_last_accept": stats([r["backlog_batches_at_last_accept"] for r in e2e]),
        "targets": {
            "ratio_at_least": target,
            "ratio_met": ratio is not None and ratio >= target,
            "peak_rss_mb_at_most": TARGET_PEAK_RSS_MB,
            "peak_rss_met": peak is not None and peak <= TARGET_PEAK_RSS_MB,
        },
    }


def _peak_by_process(reps: Sequence[dict[str, Any]]) -> dict[str, float]:
    peaks: dict[str, float] = {}
    for rep in reps:
        for role, mem in rep["memory_mb"].items():
            peaks[role] = max(peaks.get(role, 0.0), mem.get("peak_rss_mb", 0.0))
    return peaks


def _num(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:,.0f} {unit}"


def _median(block: dict[str, Any] | None) -> float | None:
    return None if block is None else block["median"]


def line(store: str, summary: dict[str, Any]) -> str:
    """``sqlite  accepted=… el/s  applied=… el/s  raw=… rows/s  ratio=0.xx  peak_rss=… MB``."""
    if summary.get("skipped"):
        return f"{store:<9} skipped: {summary['skipped']}"
    ratio = summary["ratio_applied_raw"]
    by_process = summary["peak_rss_mb_by_process"]
    detail = ", ".join(f"{role} {mb:.0f}" for role, mb in by_process.items())
    peak = summary["peak_rss_mb"]
    return (
        f"{store:<9} accepted={_num(_median(summary['accepted_el_s']), 'el/s')}  "
        f"applied={_num(_median(summary['applied_el_s']), 'el/s')}  "
        f"raw={_num(_median(summary['raw_rows_s']), 'rows/s')}  "
        f"ratio={'n/a' if ratio is None else f'{ratio:.2f}'}  "
        f"peak_rss={'n/a' if peak is None else f'{peak:.0f}'} MB"
        + (f" ({detail})" if len(by_process) > 1 else "")
    )


def import_summary(store: str, runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The people import of one store, per file: accept and apply times, rows applied per
    second from the request to ``done``, the anchor's people per second, their ratio, and the
    peak RSS of each process; then the targets, and the growth of the API's and of the
    workers' peak from the smallest file to the largest (a worker's peak is that of the
    busiest worker: on PostgreSQL either of the two may take the import)."""
    stage, anchor_stage = IMPORT[store]
    reps, anchor = _ok(runs.get(stage, [])), _ok(runs.get(anchor_stage, []))
    labels = list(reps[0]["sizes"]) if reps else []
    sizes = {label: _import_size(label, reps, anchor) for label in labels}
    ratios = [s["ratio_applied_raw"] for s in sizes.values()]
    peaks = [s["peak_rss_mb"] for s in sizes.values()]
    growth: dict[str, float] = {}
    if len(labels) > 1:
        small = _peak_by_role(sizes[labels[0]]["peak_rss_mb_by_process"])
        large = _peak_by_role(sizes[labels[-1]]["peak_rss_mb_by_process"])
        growth = {role: round(large[role] / small[role], 2) for role in large if small.get(role)}
    return {
        "sizes": sizes,
        "peak_rss_growth": growth,
        "targets": {
            "ratio_at_least": IMPORT_TARGET_RATIO,
            "ratio_met": bool(ratios)
            and all(r is not None and r >= IMPORT_TARGET_RATIO for r in ratios),
            "peak_rss_mb_at_most": TARGET_PEAK_RSS_MB,
            "peak_rss_met": bool(peaks) and max(peaks) <= TARGET_PEAK_RSS_MB,
            "peak_rss_growth_at_most": RSS_GROWTH_AT_MOST,
            "peak_rss_flat": bool(growth) and max(growth.values()) <= RSS_GROWTH_AT_MOST,
        },
    }


def _peak_by_role(by_process: dict[str, float]) -> dict[str, float]:
    """The highest peak of the API process(es) and of the worker processes."""
    found: dict[str, float] = {}
    for process, mb in by_process.items():
        role = "worker" if "worker" in process else "api"
        found[role] = max(found.get(role, 0.0), mb)
    return found


def server_log_line(runs: dict[str, list[dict[str, Any]]], names: Sequence[str]) -> str | None:
    """How many lines at level warning or above the servers of these stages logged (none:
    ``None``), and the first of them."""
    counts: dict[str, int] = {}
    first: list[str] = []
    for name in names:
        for rep in runs.get(name, []):
            logs = [rep.get("server_log", {})]
            logs += [size.get("server_log", {}) for size in rep.get("sizes", {}).values()]
            for found in logs:
                for process, entry in found.items():
                    counts[process] = counts.get(process, 0) + entry["lines"]
                    first = first or entry["first"][:1]
    if not sum(counts.values()):
        return None
    listed = ", ".join(f"{process} {n}" for process, n in counts.items() if n)
    return f"{'':<16} server logs of {', '.join(names)}: warnings or worse ({listed}): {first}"


def _import_size(
    label: str, reps: Sequence[dict[str, Any]], anchor: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    mine = [r["sizes"][label] for r in reps if label in r["sizes"]]
    raw_reps = [a for a in anchor if label in a["sizes"]]
    raw = [a["sizes"][label]["people_per_s"] for a in raw_reps]
    raw_by_rep = {a["rep"]: a["sizes"][label]["people_per_s"] for a in raw_reps}
    applied = [m["applied_el_s"] for m in mine]
    paired = [
        r["sizes"][label]["applied_el_s"] / raw_by_rep[r["rep"]]
        for r in reps
        if label in r["sizes"] and r["rep"] in raw_by_rep
    ]
    ratio = statistics.median(applied) / statistics.median(raw) if applied and raw else None
    return {
        "rows": mine[0]["rows"] if mine else None,
        "bytes": mine[0]["bytes"] if mine else None,
        "accept_seconds": stats([m["accept_seconds"] for m in mine]),
        "apply_seconds": stats([m["apply_seconds"] for m in mine]),
        "applied_rows_s": stats(applied),
        "anchor_people_s": stats(raw),
        "anchor_rows_s": stats([a["sizes"][label]["rows_per_s"] for a in raw_reps]),
        "ratio_applied_raw": None if ratio is None else round(ratio, 3),
        "paired_ratio_median": round(statistics.median(paired), 3) if paired else None,
        "peak_rss_mb": max((m["peak_rss_mb"] for m in mine), default=None),
        "peak_rss_mb_by_process": _peak_by_process(mine),
    }


def _seconds(block: dict[str, Any] | None) -> str:
    value = _median(block)
    return "n/a" if value is None else f"{value:.1f} s"


def _yes(met: bool) -> str:
    return "met" if met else "NOT met"


def import_lines(store: str, summary: dict[str, Any]) -> list[str]:
    """One line per file (accept and apply times, rows/s, the anchor's people/s, the ratio,
    peak RSS per process), then the targets."""
    name = f"import:{store}"
    if summary.get("skipped"):
        return [f"{name:<16} skipped: {summary['skipped']}"]
    lines = []
    for label, size in summary["sizes"].items():
        ratio = size["ratio_applied_raw"]
        rss = ", ".join(f"{role} {mb:.0f}" for role, mb in size["peak_rss_mb_by_process"].items())
        lines.append(
            f"{name:<16} {label:>6} ({size['rows']:,} rows): "
            f"accept {_seconds(size['accept_seconds'])}, apply {_seconds(size['apply_seconds'])}, "
            f"applied={_num(_median(size['applied_rows_s']), 'rows/s')}  "
            f"raw={_num(_median(size['anchor_people_s']), 'people/s')}  "
            f"ratio={'n/a' if ratio is None else f'{ratio:.2f}'}  peak_rss MB: {rss}"
        )
    targets = summary["targets"]
    growth = ", ".join(f"{role} {g:.2f}x" for role, g in summary["peak_rss_growth"].items())
    lines.append(
        f"{'':<16} targets: ratio >= {targets['ratio_at_least']} {_yes(targets['ratio_met'])}; "
        f"peak RSS <= {targets['peak_rss_mb_at_most']:.0f} MB {_yes(targets['peak_rss_met'])}; "
        f"peak RSS flat (<= {targets['peak_rss_growth_at_most']}x from the smallest file to the "
        f"largest) {_yes(targets['peak_rss_flat'])} ({growth or 'n/a'})"
    )
    return lines


def apply_by_kind(reps: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per batch kind, over the correct reps: the workers' applied entries per second of
    logged apply time, the time spent deciding, and the median group time
    (``migration.apply_by_kind``)."""
    found: dict[str, dict[str, Any]] = {}
    kinds = sorted({k for r in _ok(reps) for k in r.get("apply_by_kind", {})})
    for kind in kinds:
        mine = [r["apply_by_kind"][kind] for r in _ok(reps) if kind in r.get("apply_by_kind", {})]
        found[kind] = {
            "applied_per_s": stats([m["applied_per_s"] for m in mine]),
            "apply_ms_sum": stats([m["apply_ms_sum"] for m in mine]),
            "decide_ms_sum": stats([m.get("decide_ms_sum", 0.0) for m in mine]),
            "group_ms_p50": stats([m["group_ms_p50"] for m in mine]),
            "batches_per_group": round(
                sum(m["batches"] for m in mine) / max(1, sum(m["groups"] for m in mine)), 1
            ),
        }
    return found


def kinds_line(store: str, by_kind: dict[str, dict[str, Any]]) -> str | None:
    """``worker apply: customers … /s (… ms), events …`` (medians over the reps)."""
    if not by_kind:
        return None
    parts = []
    for kind, figures in by_kind.items():
        rate, ms = _median(figures["applied_per_s"]), _median(figures["apply_ms_sum"])
        decide = _median(figures["decide_ms_sum"])
        name = kind.rpartition(".")[2]
        parts.append(f"{name} {_num(rate, '/s')} ({_num(ms, 'ms')}, deciding {_num(decide, 'ms')})")
    return f"{'':<9}   worker apply time by kind: {', '.join(parts)}"


def decode_line(runs: dict[str, list[dict[str, Any]]]) -> str | None:
    values = [r["elements_per_s"] for r in _ok(runs.get("D", []))]
    if not values:
        return None
    return f"{'decode':<9} D={statistics.median(values):,.0f} el/s (msgspec typed decode, ceiling)"


def write(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
