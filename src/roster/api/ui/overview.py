"""``/ui/``: every workspace's queue, recent runs and batches, and batches with failures."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from roster.api.ui.pages import database
from roster.api.ui.sessions import SignedIn
from roster.api.ui.templating import render
from roster.services.dashboard.overview import overview

router = APIRouter(prefix="/ui")


@router.get("/")
def overview_page(request: Request, session: SignedIn) -> Response:
    return render(request, "overview.html", {"workspaces": overview(database(request))})
