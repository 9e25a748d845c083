"""Runs read back: every batch a client sent under one run name (``X-Roster-Run``), added up.

A run is how a whole migration is watched and accounted for: its batches by status, its
elements by outcome, its issue codes with counts, when it started and last finished, and every
issue, page by page or as one CSV file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from roster.domain.errors import Conflict, NotFound
from roster.domain.outcomes import issue_outcome
from roster.domain.timestamps import format_optional_ms as _iso
from roster.domain.workspaces import Workspace
from roster.services.reads import cursors
from roster.store import batch_reads
from roster.store.database import Database

#: The columns of a run's issues as CSV, in order.
ISSUE_COLUMNS = (
    "batch_id",
    "kind",
    "index",
    "severity",
    "outcome",
    "key",
    "field",
    "code",
    "message",
)
CSV_PAGE = 5_000


def run_list(db: Database, workspace: Workspace, *, limit: int) -> list[dict[str, Any]]:
    """The workspace's runs, the one with the newest batch first."""
    runs: list[dict[str, Any]] = run_page(db, workspace, limit=limit)["runs"]
    return runs


def run_page(
    db: Database, workspace: Workspace, *, limit: int, after: str | None = None
) -> dict[str, Any]:
    """A page of the workspace's runs, the one with the newest batch first, and the cursor of
    the next page (``next``, to pass as ``after``; ``None`` after the last)."""
    before = cursors.number(after)
    with db.read() as conn:
        rows = batch_reads.runs_of(conn, workspace.id, limit=limit, before=before)
    following = str(rows[-1]["last_seq"]) if len(rows) == limit else None
    return {"runs": [_summary(r) for r in rows], "next": following}


def run_view(db: Database, workspace: Workspace, name: str) -> dict[str, Any]:
    """One run: its summary, its kinds, and its issue codes with counts."""
    with db.read() as conn:
        row = batch_reads.run_summary(conn, workspace.id, name)
        if row is None:
            raise NotFound(f"run {name!r} not found", field="run")
        codes = batch_reads.run_issue_codes(conn, workspace.id, name)
    view = _summary(row)
    view["kinds"] = row["kinds"]
    view["codes"] = {
        "errors": {code: n for severity, code, n in codes if severity == "error"},
        "warnings": {code: n for severity, code, n in codes if severity == "warning"},
    }
    return view


def dry_run_to_decide(db: Database, workspace: Workspace, name: str) -> int:
    """How many batches the dry run's decision decides (all of the run's: those decided before
    are decided again after the ones held); ``NotFound`` for no such run, ``Conflict`` for a
    real run or one with nothing held."""
    with db.read() as conn:
        row = batch_reads.run_summary(conn, workspace.id, name)
    if row is None:
        raise NotFound(f"run {name!r} not found", field="run")
    if not row["dry_run"]:
        raise Conflict(f"run {name!r} is not a dry run: it is applied as it comes", field="run")
    if not row["held"]:
        raise Conflict(f"dry run {name!r} holds no batch left to decide", field="run")
    return int(row["batches"])


def run_issues(
    db: Database, workspace: Workspace, name: str, *, after: str | None, limit: int
) -> dict[str, Any]:
    """A page of the run's issues and the cursor of the next page (``None`` after the last)."""
    cursor = _cursor(after)
    with db.read() as conn:
        if cursor is None and batch_reads.run_summary(conn, workspace.id, name) is None:
            raise NotFound(f"run {name!r} not found", field="run")
        rows = batch_reads.run_issues(conn, workspace.id, name, after=cursor, limit=limit)
    following = f"{rows[-1]['seq']}.{rows[-1]['ordinal']}" if len(rows) == limit else None
    return {"issues": [_issue(r) for r in rows], "next": following}


def run_effects(
    db: Database, workspace: Workspace, name: str, *, after: str | None, limit: int
) -> dict[str, Any]:
    """A page of what each element of the run's batches did (``created``, ``updated``,
    ``unchanged``; ``-`` for one not applied), one letter an element, and the next cursor."""
    start = cursors.number(after)
    with db.read() as conn:
        if start is None and batch_reads.run_summary(conn, workspace.id, name) is None:
            raise NotFound(f"run {name!r} not found", field="run")
        rows = batch_reads.run_effects(conn, workspace.id, name, after=start, limit=limit)
    following = str(rows[-1][0]) if len(rows) == limit else None
    return {
        "batches": [{"batch_id": batch_id, "effects": effects} for _, batch_id, effects in rows],
        "next": following,
    }


#: What a spreadsheet reads as the start of a formula (a minus sign only before a non-digit).
_FORMULA_STARTS = ("=", "+", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A CSV cell as a spreadsheet opens it safely: text a client sent (a key, a message) that
    a spreadsheet would run as a formula gets a leading ``'``; numbers and other text as they
    are."""
    if (
        isinstance(value, str)
        and value
        and (value.startswith(_FORMULA_STARTS) or (value[0] == "-" and not value[1:2].isdigit()))
    ):
        return "'" + value
    return value


def run_issues_csv(db: Database, workspace: Workspace, name: str) -> Iterator[str]:
    """Every issue of the run as CSV text (a header line, then one line per issue), read a
    page at a time, so a run of millions of elements is never held in memory. An unknown run
    gives the header alone: callers check the run first (``run_view``)."""

    def pages() -> Iterator[list[dict[str, Any]]]:
        after: tuple[int, int] | None = None
        while True:
            with db.read() as conn:
                rows = batch_reads.run_issues(conn, workspace.id, name, after=after, limit=CSV_PAGE)
            yield [_issue(r) for r in rows]
            if len(rows) < CSV_PAGE:
                return
            after = (rows[-1]["seq"], rows[-1]["ordinal"])

    return issues_csv_lines(pages())


def issues_csv_lines(pages: Iterator[list[dict[str, Any]]]) -> Iterator[str]:
    """The issues CSV (``ISSUE_COLUMNS``): the header, then each page of issues (dicts with
    those keys) as one piece of text."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(ISSUE_COLUMNS)
    for page in pages:
        for issue in page:
            writer.writerow([safe_cell(issue[c]) for c in ISSUE_COLUMNS])
        yield out.getvalue()
        out.seek(0)
        out.truncate()


def _cursor(after: str | None) -> tuple[int, int] | None:
    if after is None:
        return None
    seq, dot, ordinal = after.partition(".")
    if not (dot and cursors.is_number(seq) and cursors.is_number(ordinal)):
        cursors.refuse(after)
    return int(seq), int(ordinal)


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    elements = int(row["elements"] or 0)
    counted = int(row["applied"] or 0) + int(row["skipped"] or 0) + int(row["failed"] or 0)
    unfinished = int(row["queued"]) + int(row["processing"]) + int(row["held"])
    return {
        "run": row["run"],
        "dry_run": bool(row["dry_run"]),
        "status": "running" if unfinished else "finished",
        "batches": {
            "total": int(row["batches"]),
            "held": int(row["held"]),
            "queued": int(row["queued"]),
            "processing": int(row["processing"]),
            "done": int(row["done"]),
            "failed": int(row["failed_batches"]),
        },
        "counts": {
            "total": elements,
            "applied": int(row["applied"] or 0),
            "skipped": int(row["skipped"] or 0),
            "failed": int(row["failed"] or 0),
        },
        "effects": {
            "created": int(row["created"] or 0),
            "updated": int(row["updated"] or 0),
            "unchanged": int(row["unchanged"] or 0),
        },
        "progress": round(counted / elements, 4) if elements else 1.0,
        "first_accepted_at": _iso(row["first_accepted_at"]),
        "last_accepted_at": _iso(row["last_accepted_at"]),
        "last_finished_at": _iso(row["last_finished_at"]),
    }


def _issue(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "batch_id": row["batch_id"],
        "kind": row["kind"],
        "index": row["element_index"],
        "severity": row["severity"],
        "outcome": issue_outcome(row["outcome"], row["severity"]),
        "key": row["key"],
        "field": row["field"],
        "code": row["code"],
        "message": row["message"],
    }
