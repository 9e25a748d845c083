"""Workspaces: their settings, read by every operator and changed by admins (identity
resolution, identifiers, rate limits, tiers; a new API key), through ``workspace_admin``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from roster.api.ui.pages import database, workspace
from roster.api.ui.sessions import AdminChanging, SignedIn
from roster.api.ui.templating import HEADERS, render
from roster.domain.errors import Conflict, InvalidSetting, RosterError
from roster.domain.workspaces import Workspace
from roster.services.admin import workspace_admin

router = APIRouter(prefix="/ui")
Text = Annotated[str, Form(max_length=5000)]


@router.get("/workspaces")
def workspace_list_page(request: Request, session: SignedIn) -> Response:
    found = workspace_admin.list_all(database(request))
    described = [workspace_admin.describe(w) for w in sorted(found, key=lambda w: w.name)]
    return render(request, "workspaces.html", {"workspaces": described})


def _settings_page(
    request: Request, ws: Workspace, *, saved: bool, problem: str | None, new_key: str | None
) -> Response:
    context = {"ws": ws, "settings": workspace_admin.describe(ws), "saved": saved}
    context |= {"problem": problem, "new_key": new_key}
    return render(request, "settings.html", context, status_code=400 if problem else 200)


@router.get("/w/{workspace_id}/settings")
def settings_page(
    request: Request,
    workspace_id: str,
    session: SignedIn,
    saved: str = Query("", max_length=3),
) -> Response:
    ws = workspace(request, workspace_id)
    return _settings_page(request, ws, saved=bool(saved), problem=None, new_key=None)


async def _change(request: Request, ws: Workspace, action: Callable[[], Any]) -> Response:
    """Apply a change; back to the settings page (saved), or with the refusal shown."""
    try:
        await run_in_threadpool(action)
    except RosterError as exc:
        fresh = await run_in_threadpool(workspace, request, ws.id)
        return _settings_page(request, fresh, saved=False, problem=exc.message, new_key=None)
    target = f"/ui/w/{ws.id}/settings?saved=yes"
    return RedirectResponse(target, status_code=303, headers=HEADERS)


def _count(text: str) -> int | None:
    """A per-minute budget from a form field: blank keeps the current one."""
    text = text.strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise InvalidSetting(f"{text[:20]!r} is not a whole number", field="limits")
    return int(text)


@router.post("/w/{workspace_id}/settings")
async def change_settings(
    request: Request,
    workspace_id: str,
    session: AdminChanging,
    identity_resolution: Text = "",
    identifiers: Text = "",
    limits: Text = "",
    users_per_minute: Text = "",
    events_per_minute: Text = "",
    merges_per_minute: Text = "",
) -> Response:
    ws = await run_in_threadpool(workspace, request, workspace_id)
    names = [n.strip() for n in identifiers.split(",") if n.strip()]

    def apply() -> None:
        workspace_admin.configure(
            database(request),
            ws.id,
            identity_resolution={"on": True, "off": False}.get(identity_resolution),
            identifiers=names or None,
            limits=limits or None,
            users_per_minute=_count(users_per_minute),
            events_per_minute=_count(events_per_minute),
            merges_per_minute=_count(merges_per_minute),
        )

    return await _change(request, ws, apply)


@router.post("/w/{workspace_id}/tiers")
async def change_tiers(
    request: Request, workspace_id: str, session: AdminChanging, tiers: Text = ""
) -> Response:
    """``NAME=THRESHOLD`` a line (none: no tiers), as ``roster workspace set-tiers`` takes."""
    ws = await run_in_threadpool(workspace, request, workspace_id)
    pairs = [line.rpartition("=")[::2] for line in tiers.splitlines() if line.strip()]

    def apply() -> None:
        for name, threshold in pairs:
            if not name.strip() or not threshold.strip():
                raise InvalidSetting("each line is NAME=THRESHOLD, e.g. Silver=500", field="tiers")
        workspace_admin.set_tiers(
            database(request), ws.id, [(n.strip(), t.strip()) for n, t in pairs]
        )

    return await _change(request, ws, apply)


@router.post("/w/{workspace_id}/rotate-key")
async def rotate_key(
    request: Request, workspace_id: str, session: AdminChanging, rotated_at: Text = ""
) -> Response:
    """A new API key, shown once on the page this answers; the old key stops working at once.
    The form says when the key it saw was rotated: sent again (a reload), it rotates nothing."""
    ws = await run_in_threadpool(workspace, request, workspace_id)
    seen = int(rotated_at) if rotated_at.isascii() and rotated_at.isdigit() else -1
    try:
        key = await run_in_threadpool(
            lambda: workspace_admin.rotate_key(database(request), ws.id, rotated_at=seen)
        )
    except Conflict as exc:
        fresh = await run_in_threadpool(workspace, request, workspace_id)
        return _settings_page(request, fresh, saved=False, problem=exc.message, new_key=None)
    return _settings_page(request, ws, saved=False, problem=None, new_key=key)
