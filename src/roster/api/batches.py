"""``GET /v1/batches/{batch_id}`` and ``GET /v1/batches``: the ledger, read back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from roster.api.deps import caller, container
from roster.api.params import RUN_SCHEMA, text_param
from roster.domain.batches import MAX_RUN_LENGTH, Status, run_name
from roster.domain.workspaces import Workspace
from roster.services.reads import batches

router = APIRouter(tags=["Batches"])
Caller = Annotated[Workspace, Depends(caller)]


@router.get("/v1/batches/{batch_id}", summary="A batch: status, counts, per-element errors")
async def get_batch(
    batch_id: Annotated[str, Path(json_schema_extra={"maxLength": 40})],
    request: Request,
    workspace: Caller,
    issues_offset: int = Query(0, ge=0, le=2**31 - 1),
    issues_limit: int = Query(1000, ge=1, le=10_000),
) -> dict[str, Any]:
    batch_id = text_param(batch_id, "batch_id", max_length=40)
    db = container(request).db
    return await run_in_threadpool(
        lambda: batches.batch_view(
            db, workspace, batch_id, issues_offset=issues_offset, issues_limit=issues_limit
        )
    )


@router.get("/v1/batches", summary="Recent batches of the workspace, newest first")
async def list_batches(
    request: Request,
    workspace: Caller,
    status: Status | None = None,
    kind: str | None = Query(None, max_length=40),
    run: str | None = Query(
        None, max_length=MAX_RUN_LENGTH, description="only this run's", json_schema_extra=RUN_SCHEMA
    ),
    limit: int = Query(50, ge=1, le=1000),
) -> dict[str, Any]:
    db = container(request).db
    kind = None if kind is None else text_param(kind, "kind", max_length=40)
    run = None if run is None else run_name(run, "run")
    rows = await run_in_threadpool(
        lambda: batches.batch_list(db, workspace, status=status, kind=kind, run=run, limit=limit)
    )
    return {"batches": rows}
