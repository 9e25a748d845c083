"""What the dashboard's page modules share: the workspace a path names, and reads whose
"not found" becomes the dashboard's 404 page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from fastapi import Request
from fastapi.responses import StreamingResponse

from roster.api.deps import container
from roster.api.ui.sessions import PageNotFound
from roster.api.ui.templating import HEADERS
from roster.domain.errors import NotFound
from roster.domain.workspaces import Workspace
from roster.services.admin import workspace_admin
from roster.store.database import Database

T = TypeVar("T")


def database(request: Request) -> Database:
    return container(request).db


def found(read: Callable[[], T]) -> T:
    """``read()``; its ``NotFound`` answered with the dashboard's 404 page."""
    try:
        return read()
    except NotFound as exc:
        raise PageNotFound(exc.message) from None


def workspace(request: Request, workspace_id: str) -> Workspace:
    return found(lambda: workspace_admin.show(database(request), workspace_id[:64]))


#: Issues shown on one page of a batch or a run.
ISSUES_PAGE = 50


def csv_download(lines: Iterator[str], filename: str) -> StreamingResponse:
    """``lines`` streamed as a CSV file named ``filename`` (a name already checked)."""
    disposition = f'attachment; filename="{filename}"'
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={**HEADERS, "Content-Disposition": disposition},
    )
