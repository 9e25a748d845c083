"""``GET /v1/workspace`` and ``PATCH /v1/workspace``: the caller's workspace settings.

A data API key may read its workspace's settings, change identity resolution and its
identifier attributes, and set its loyalty tiers (``PUT /v1/workspace/tiers``). Rate limits
are the operator's to set (``roster workspace set``): a tenant cannot lift its own limits.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from roster.api.deps import caller, container
from roster.domain.attributes import SYSTEM_NAMES
from roster.domain.workspaces import Workspace
from roster.formats.masivo import MAX_CUSTOMERS
from roster.formats.moengage import MAX_MERGE_PAIRS, MERGE_MAX_BODY_BYTES
from roster.services.admin import workspace_admin

router = APIRouter(tags=["Workspace"])
Caller = Annotated[Workspace, Depends(caller)]


#: An identifier attribute's name, as ``Workspace.with_identifiers`` checks it (documented here;
#: refused with 422 there).
_NAME: dict[str, Any] = {
    "json_schema_extra": {
        "pattern": "^[A-Za-z][A-Za-z0-9_.-]*$",
        "not": {"enum": sorted(SYSTEM_NAMES)},
    }
}


class WorkspaceSettings(BaseModel):
    """The settings a workspace's own key may change; fields left out stay as they are."""

    model_config = ConfigDict(strict=True, extra="forbid")

    identity_resolution: bool | None = None
    identifiers: list[Annotated[str, Field(min_length=1, max_length=200, **_NAME)]] | None = Field(
        None, max_length=20
    )


class TierRule(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    threshold: Annotated[int, Field(ge=0)] | Annotated[float, Field(ge=0)]


class TierRules(BaseModel):
    """The workspace's loyalty tiers, in any order (an empty list removes them)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    tiers: list[TierRule] = Field(max_length=50)


@router.get("/v1/workspace", summary="The caller's workspace, its settings and request limits")
async def get_workspace(request: Request, workspace: Caller) -> dict[str, Any]:
    return {**workspace_admin.describe(workspace), "requests": _request_limits(request)}


def _request_limits(request: Request) -> dict[str, dict[str, int]]:
    """The most one request of each surface may hold, as the doors check it: what a loader
    packs its requests within (``roster load``)."""
    s = container(request).settings
    return {
        "moengage_transition": {"max_bytes": s.max_body_bytes},
        "customerio_batch": {"max_bytes": s.batch_max_body_bytes},
        "customerio_call": {"max_bytes": s.max_body_bytes},
        "people_csv": {"max_bytes": s.csv_max_bytes},
        "masivo": {"max_bytes": s.migration_max_body_bytes, "max_customers": MAX_CUSTOMERS},
        "moengage_merge": {"max_bytes": MERGE_MAX_BODY_BYTES, "max_pairs": MAX_MERGE_PAIRS},
    }


@router.patch(
    "/v1/workspace",
    summary="Change identity resolution and identifier attributes",
    responses={422: {"description": "A setting the workspace cannot take"}},
)
async def patch_workspace(
    body: WorkspaceSettings, request: Request, workspace: Caller
) -> dict[str, Any]:
    db = container(request).db
    changed = await run_in_threadpool(
        lambda: workspace_admin.configure(
            db,
            workspace.id,
            identity_resolution=body.identity_resolution,
            identifiers=body.identifiers,
        )
    )
    return workspace_admin.describe(changed)


@router.put(
    "/v1/workspace/tiers",
    summary="Set the loyalty tiers (thresholds on lifetime spend)",
    responses={422: {"description": "Tiers the workspace cannot take"}},
)
async def put_tiers(body: TierRules, request: Request, workspace: Caller) -> dict[str, Any]:
    db = container(request).db
    pairs = [(t.name, str(t.threshold)) for t in body.tiers]
    changed = await run_in_threadpool(lambda: workspace_admin.set_tiers(db, workspace.id, pairs))
    return workspace_admin.describe(changed)
