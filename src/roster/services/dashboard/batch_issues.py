"""A batch's issues as the dashboard shows them: counted by code, and as one CSV file (in the
columns of a run's issues CSV, ``services.reads.runs.ISSUE_COLUMNS``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from roster.domain.element_rules import excerpt
from roster.domain.errors import NotFound
from roster.domain.workspaces import Workspace
from roster.services.reads.runs import CSV_PAGE, ISSUE_COLUMNS, safe_cell
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
    return _lines(db, batch_id, row["kind"])


def _lines(db: Database, batch_id: str, kind: str) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(ISSUE_COLUMNS)
    offset = 0
    while True:
        with db.read() as conn:
            page = batch_reads.issues_of(conn, batch_id, offset=offset, limit=CSV_PAGE)
        for i in page:
            outcome = i.outcome or ("failed" if i.severity == "error" else None)
            values = {"batch_id": batch_id, "kind": kind, "index": i.index, "outcome": outcome}
            values |= {"severity": i.severity, "key": i.key, "field": i.field}
            values |= {"code": i.code, "message": i.message}
            writer.writerow([safe_cell(values[c]) for c in ISSUE_COLUMNS])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        if len(page) < CSV_PAGE:
            return
        offset += len(page)  # ordinals run 0, 1, 2, ... per batch


def _check(conn: Any, workspace: Workspace, batch_id: str) -> dict[str, Any]:
    row = batch_reads.get(conn, workspace.id, batch_id)
    if row is None:
        raise NotFound(f"batch {excerpt(batch_id)} not found", field="batch_id")
    return row
