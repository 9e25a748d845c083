"""What a user reads back of the ledger: a batch with its issues, and the recent batches."""

from __future__ import annotations

from typing import Any

from roster.domain.batches import Status
from roster.domain.element_rules import excerpt
from roster.domain.errors import NotFound
from roster.domain.outcomes import Issue
from roster.domain.timestamps import format_optional_ms as _iso
from roster.domain.workspaces import Workspace
from roster.services.reads import cursors
from roster.store import batch_reads
from roster.store.database import Database


def batch_view(
    db: Database,
    workspace: Workspace,
    batch_id: str,
    *,
    issues_offset: int = 0,
    issues_limit: int = 1000,
) -> dict[str, Any]:
    """A batch with one page of its issues (in element order: ``issues_offset`` of them
    skipped, at most ``issues_limit`` given) and how many it holds of each severity."""
    with db.read() as conn:
        row = batch_reads.get(conn, workspace.id, batch_id)
        if row is None:
            raise NotFound(f"batch {excerpt(batch_id)} not found", field="batch_id")
        issues = batch_reads.issues_of(conn, batch_id, offset=issues_offset, limit=issues_limit)
        held = batch_reads.issue_counts(conn, batch_id)
        ahead = (
            batch_reads.ahead_of(conn, workspace.id, row["seq"])
            if row["status"] == Status.QUEUED
            else 0
        )
    view = _summary(row)
    view["ahead"] = ahead
    view["errors"] = [_issue(i) for i in issues if i.severity == "error"]
    view["warnings"] = [_issue(i) for i in issues if i.severity == "warning"]
    view["issues"] = {
        "errors": held.get("error", 0),
        "warnings": held.get("warning", 0),
        "offset": issues_offset,
        "limit": issues_limit,
    }
    return view


def batch_page(
    db: Database,
    workspace: Workspace,
    *,
    status: str | None = None,
    kind: str | None = None,
    run: str | None = None,
    has_errors: bool | None = None,
    after: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """A page of the workspace's batches, newest first, and the cursor of the next page
    (``next``, to pass as ``after``; ``None`` after the last)."""
    before = cursors.number(after)
    with db.read() as conn:
        rows = batch_reads.list_recent(
            conn,
            workspace.id,
            status=status,
            kind=kind,
            limit=limit,
            run=run,
            has_errors=has_errors,
            before=before,
        )
    return {
        "batches": [_summary(r) for r in rows],
        "next": str(rows[-1]["seq"]) if len(rows) == limit else None,
    }


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "batch_id": row["id"],
        "kind": row["kind"],
        "run": row["run"],
        "status": row["status"],
        "accepted_at": _iso(row["accepted_at"]),
        "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]),
        "attempts": row["attempts"],
        "last_error": row["last_error"],
        "forwarded_for": row["forwarded_for"],
        "counts": {
            "total": row["element_count"],
            "applied": row["applied"],
            "skipped": row["skipped"],
            "failed": row["failed"],
        },
        #: What the applied elements did (``GET /v1/runs/{run}/effects`` has each one's).
        "effects": {
            "created": row["created"],
            "updated": row["updated"],
            "unchanged": row["unchanged"],
        },
    }


def _issue(issue: Issue) -> dict[str, Any]:
    return {
        "index": issue.index,
        "key": issue.key,
        "field": issue.field,
        "code": issue.code,
        "message": issue.message,
    }
