"""A batch's issues as the dashboard shows them: counted by code, and as one CSV file (in the
columns of a run's issues CSV, ``services.reads.runs.ISSUE_COLUMNS``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from roster.domain.element_rules import excerpt
from roster.domain.errors import NotFound
from roster.domain.outcomes import issue_outcome
from roster.domain.workspaces import Workspace
from roster.services.reads.runs import CSV_PAGE, issues_csv_lines
from roster.store import batch_reads
from roster.store.database import Database


def issue_codes(db: Database, batch_id: str) -> list[dict[str, Any]]:
    """``{severity, code, count}`` of the issues of a batch the caller has found in its
    workspace, most frequent first."""
    with db.read() as conn:
        rows = batch_reads.batch_issue_codes(conn, batch_id)
    return [{"severity": s, "code": c, "count": n} for s, c, n in rows]


def issues_csv(db: Database, workspace: Workspace, batch_id: str) -> Iterator[str]:
    """Every issue of the batch as CSV text, read a page at a time (``NotFound`` is raised
    before the first line, so a caller can answer 404)."""
    with db.read() as conn:
        row = _check(conn, workspace, batch_id)
    return issues_csv_lines(_pages(db, batch_id, row["kind"]))


def _pages(db: Database, batch_id: str, kind: str) -> Iterator[list[dict[str, Any]]]:
    offset = 0
    while True:
        with db.read() as conn:
            page = batch_reads.issues_of(conn, batch_id, offset=offset, limit=CSV_PAGE)
        yield [
            {
                "batch_id": batch_id,
                "kind": kind,
                "index": i.index,
                "severity": i.severity,
                "outcome": issue_outcome(i.outcome, i.severity),
                "key": i.key,
                "field": i.field,
                "code": i.code,
                "message": i.message,
            }
            for i in page
        ]
        if len(page) < CSV_PAGE:
            return
        offset += len(page)  # ordinals run 0, 1, 2, ... per batch


def _check(conn: Any, workspace: Workspace, batch_id: str) -> dict[str, Any]:
    row = batch_reads.get(conn, workspace.id, batch_id)
    if row is None:
        raise NotFound(f"batch {excerpt(batch_id)} not found", field="batch_id")
    return row
