"""``GET /v1/batches/{batch_id}`` and ``GET /v1/batches``: the ledger, read back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from roster.api.deps import caller, container
from roster.api.params import RUN_SCHEMA, text_param
from roster.domain.batches import MAX_RUN_LENGTH, Status, run_name
from roster.domain.workspaces import Workspace
from roster.services.admin import batch_retry
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


@router.get("/v1/batches", summary="The workspace's batches, newest first, paged and filtered")
async def list_batches(
    request: Request,
    workspace: Caller,
    status: Status | None = None,
    kind: str | None = Query(None, max_length=40),
    run: str | None = Query(
        None, max_length=MAX_RUN_LENGTH, description="only this run's", json_schema_extra=RUN_SCHEMA
    ),
    has_errors: bool | None = Query(
        None, description="only batches that failed or have failed elements (or, false, none)"
    ),
    after: str | None = Query(None, max_length=20, description="the previous page's `next`"),
    limit: int = Query(50, ge=1, le=1000),
) -> dict[str, Any]:
    """`{"batches", "next"}`: pass `next` as `after` for the page after (`null` after the
    last)."""
    db = container(request).db
    kind = None if kind is None else text_param(kind, "kind", max_length=40)
    run = None if run is None else run_name(run, "run")
    return await run_in_threadpool(
        lambda: batches.batch_page(
            db,
            workspace,
            status=status,
            kind=kind,
            run=run,
            has_errors=has_errors,
            after=after,
            limit=limit,
        )
    )


@router.post(
    "/v1/batches/{batch_id}/retry",
    summary="Queue a failed batch again: its attempts from 0, its progress kept",
    status_code=202,
    responses={404: {}, 409: {"description": "The batch is not failed"}},
)
async def retry_batch(
    batch_id: Annotated[str, Path(json_schema_extra={"maxLength": 40})],
    request: Request,
    workspace: Caller,
) -> dict[str, Any]:
    """The batch as `GET /v1/batches/{batch_id}` shows it, now `queued`. A CSV import resumes
    at its first chunk not applied; any other batch is applied whole (a failed one applied
    nothing). It keeps its place in the queue: before the workspace's later batches still
    queued, after those applied while it was failed."""
    batch_id = text_param(batch_id, "batch_id", max_length=40)
    db = container(request).db
    return await run_in_threadpool(batch_retry.retry, db, workspace, batch_id)
