"""Runs: the list, a run's page (batches by status, elements by outcome, issue codes, issues
page by page and as CSV, its batches) and its live progress while it runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from roster.api.ui.pages import ISSUES_PAGE, csv_download, database, found, workspace
from roster.api.ui.sessions import PageNotFound, SignedIn
from roster.api.ui.templating import render
from roster.domain.batches import run_name
from roster.domain.errors import InvalidParameter
from roster.domain.workspaces import Workspace
from roster.services.reads import batches, runs

router = APIRouter(prefix="/ui/w/{workspace_id}")
BATCHES_SHOWN = 20


RUNS_PAGE = 50


@router.get("/runs")
def run_list_page(
    request: Request,
    workspace_id: str,
    session: SignedIn,
    after: str | None = Query(None, max_length=20),
) -> Response:
    """The workspace's runs, newest first, a page at a time."""
    ws = workspace(request, workspace_id)
    try:
        page = runs.run_page(database(request), ws, limit=RUNS_PAGE, after=after)
    except InvalidParameter as exc:
        raise PageNotFound(exc.message) from None
    return render(request, "runs.html", {"ws": ws, "runs": page["runs"], "next": page["next"]})


def _run(request: Request, ws: Workspace, name: str) -> dict[str, Any]:
    try:
        checked = run_name(name, "run")
    except InvalidParameter as exc:
        raise PageNotFound(exc.message) from None
    return found(lambda: runs.run_view(database(request), ws, checked))


@router.get("/runs/{run}")
def run_detail_page(
    request: Request,
    workspace_id: str,
    run: str,
    session: SignedIn,
    after: str | None = Query(None, max_length=40),
) -> Response:
    ws = workspace(request, workspace_id)
    view = _run(request, ws, run)
    db = database(request)
    try:
        issues = runs.run_issues(db, ws, view["run"], after=after, limit=ISSUES_PAGE)
    except InvalidParameter:
        issues = runs.run_issues(db, ws, view["run"], after=None, limit=ISSUES_PAGE)
    listed = batches.batch_page(db, ws, run=view["run"], limit=BATCHES_SHOWN)
    context = {"ws": ws, "run": view, "issues": issues, "after": after, "batches": listed}
    return render(request, "run.html", context)


@router.get("/runs/{run}/progress")
def run_progress(request: Request, workspace_id: str, run: str, session: SignedIn) -> Response:
    """The fragment the run page polls: it stops polling once no batch is left to apply."""
    ws = workspace(request, workspace_id)
    return render(request, "partials/run_progress.html", {"ws": ws, "run": _run(request, ws, run)})


@router.get("/runs/{run}/issues.csv")
def run_issues_csv(request: Request, workspace_id: str, run: str, session: SignedIn) -> Response:
    ws = workspace(request, workspace_id)
    view = _run(request, ws, run)
    lines = runs.run_issues_csv(database(request), ws, view["run"])
    return csv_download(lines, f"run-{view['run']}-issues.csv")  # a checked run name
