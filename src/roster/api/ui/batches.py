"""Batches: the list with its filters and cursor paging, a batch's page (counts, timing,
attempts, place in the queue, issues by code and page by page, as CSV), and its live progress
(an htmx fragment polled while the batch is queued or processing)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from roster.api.ui.pages import ISSUES_PAGE, csv_download, database, found, workspace
from roster.api.ui.sessions import SignedIn
from roster.api.ui.templating import render
from roster.domain.batches import UNFINISHED, Status, run_name
from roster.domain.errors import InvalidParameter
from roster.domain.workspaces import Workspace
from roster.services.dashboard import batch_issues
from roster.services.reads import batches

router = APIRouter(prefix="/ui/w/{workspace_id}")
PAGE = 50


@router.get("/batches")
def batch_list_page(
    request: Request,
    workspace_id: str,
    session: SignedIn,
    status: str = Query("", max_length=20),
    kind: str = Query("", max_length=40),
    run: str = Query("", max_length=100),
    errors: str = Query("", max_length=3),
    after: str | None = Query(None, max_length=20),
) -> Response:
    ws = workspace(request, workspace_id)
    filters = {"status": status, "kind": kind, "run": run, "errors": errors}
    try:
        page = batches.batch_page(
            database(request),
            ws,
            status=Status(status) if status else None,
            kind=kind or None,
            run=run_name(run, "run") if run else None,
            has_errors={"yes": True, "no": False}.get(errors),
            after=after,
            limit=PAGE,
        )
        problem = None
    except (InvalidParameter, ValueError) as exc:
        page, problem = {"batches": [], "next": None}, str(exc)
    context = {"ws": ws, "page": page, "filters": filters, "problem": problem}
    context["statuses"] = [s.value for s in Status]
    return render(request, "batches.html", context)


def _batch(
    request: Request, ws: Workspace, batch_id: str, offset: int, limit: int = ISSUES_PAGE
) -> dict[str, Any]:
    """The batch's view (``NotFound`` unless it is this workspace's) with a page of ``limit``
    issues from ``offset``, and its issues counted by code."""
    db = database(request)
    view = found(
        lambda: batches.batch_view(db, ws, batch_id[:40], issues_offset=offset, issues_limit=limit)
    )
    view["codes"] = batch_issues.issue_codes(db, view["batch_id"])
    view["live"] = view["status"] in UNFINISHED
    return view


@router.get("/batches/{batch_id}")
def batch_detail_page(
    request: Request,
    workspace_id: str,
    batch_id: str,
    session: SignedIn,
    offset: int = Query(0, ge=0, le=2**31 - 1),
) -> Response:
    ws = workspace(request, workspace_id)
    batch = _batch(request, ws, batch_id, offset)
    issues = sorted(batch["errors"] + batch["warnings"], key=lambda i: i["index"] or 0)
    held = batch["issues"]["errors"] + batch["issues"]["warnings"]
    pages = {
        "offset": offset,
        "previous": max(0, offset - ISSUES_PAGE) if offset else None,
        "next": offset + ISSUES_PAGE if offset + ISSUES_PAGE < held else None,
        "held": held,
    }
    context = {"ws": ws, "batch": batch, "issues": issues, "pages": pages}
    return render(request, "batch.html", context)


@router.get("/batches/{batch_id}/progress")
def batch_progress(
    request: Request, workspace_id: str, batch_id: str, session: SignedIn
) -> Response:
    """The fragment the batch page polls: it stops polling once the batch is finished."""
    ws = workspace(request, workspace_id)
    batch = _batch(request, ws, batch_id, 0, limit=0)  # the fragment shows no issue itself
    return render(request, "partials/batch_progress.html", {"ws": ws, "batch": batch})


@router.get("/batches/{batch_id}/issues.csv")
def batch_issues_csv(
    request: Request, workspace_id: str, batch_id: str, session: SignedIn
) -> Response:
    ws = workspace(request, workspace_id)
    lines = found(lambda: batch_issues.issues_csv(database(request), ws, batch_id[:40]))
    # the id is a stored batch's (found above): safe in a header
    return csv_download(lines, f"batch-{batch_id[:40]}-issues.csv")
