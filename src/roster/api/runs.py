"""``/v1/runs``: the batches a client sent under one run name (``X-Roster-Run``), added up.

``GET /v1/runs`` lists the workspace's runs, ``GET /v1/runs/{run}`` shows one (batches by
status, elements by outcome and effect, issue codes with counts, progress), ``GET
/v1/runs/{run}/issues`` gives every issue of its batches, a page at a time with a cursor, or all
of them as one CSV file (``?format=csv``), and ``GET /v1/runs/{run}/effects`` what each element
did.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from roster.api.deps import caller, container
from roster.api.params import RUN_SCHEMA
from roster.api.submit import submit
from roster.domain.batches import run_name
from roster.domain.workspaces import Workspace
from roster.services.apply import kinds
from roster.services.apply.dry_run import job_payload
from roster.services.reads import runs

router = APIRouter(tags=["Runs"])
Caller = Annotated[Workspace, Depends(caller)]
Run = Annotated[str, Path(json_schema_extra=RUN_SCHEMA)]


@router.get("/v1/runs", summary="The workspace's runs, the one with the newest batch first, paged")
async def list_runs(
    request: Request,
    workspace: Caller,
    limit: int = Query(50, ge=1, le=1000),
    after: str | None = Query(None, max_length=20, description="the previous page's `next`"),
) -> dict[str, Any]:
    """`{"runs", "next"}`: pass `next` as `after` for the page after (`null` after the last)."""
    db = container(request).db
    return await run_in_threadpool(lambda: runs.run_page(db, workspace, limit=limit, after=after))


@router.get("/v1/runs/{run}", summary="A run: its batches, outcomes, issue codes and progress")
async def get_run(run: Run, request: Request, workspace: Caller) -> dict[str, Any]:
    db = container(request).db
    name = run_name(run, "run")
    return await run_in_threadpool(lambda: runs.run_view(db, workspace, name))


@router.post(
    "/v1/runs/{run}/dry-run",
    summary="Decide a dry run: all its batches, in order, applied and rolled back",
    status_code=202,
    responses={404: {}, 409: {}, 429: {}},
)
async def decide_dry_run(
    run: Run, request: Request, response: Response, workspace: Caller
) -> dict[str, Any]:
    """The dry run's batches are decided as a whole, in the workspace's order, once this
    request's batch reaches the head of its queue; then they hold a real run's ledgers."""
    db = container(request).db
    name = run_name(run, "run")
    held = await run_in_threadpool(lambda: runs.dry_run_to_decide(db, workspace, name))
    batch_id = await submit(
        request,
        response,
        workspace,
        kind=kinds.DRY_RUN,
        payload=job_payload(name),
        elements=held,  # its ledger counts the batches it decides
        users=0,
        events=0,
        key=None,  # a second decision finds nothing held, and one that failed is asked again
        named_run=False,  # the decision is no part of the run it decides
    )
    return {"status": "accepted", "run": name, "batch_id": batch_id}


@router.get(
    "/v1/runs/{run}/effects",
    summary="What each element of a run's batches did: created, updated or unchanged",
)
async def get_run_effects(
    run: Run,
    request: Request,
    workspace: Caller,
    after: str | None = Query(
        None,
        max_length=20,
        description="the previous page's 'next'",
        json_schema_extra={"pattern": "^[0-9]{1,18}$"},
    ),
    limit: int = Query(100, ge=1, le=1000, description="batches a page"),
) -> dict[str, Any]:
    """One letter per element of each batch, by its ``index``: ``c`` created, ``u`` updated,
    ``n`` unchanged, ``-`` not applied (the batch's issues say why). A dry run's letters say
    what a real run would do."""
    db = container(request).db
    name = run_name(run, "run")
    return await run_in_threadpool(
        lambda: runs.run_effects(db, workspace, name, after=after, limit=limit)
    )


@router.get(
    "/v1/runs/{run}/issues",
    summary="Every error and warning of a run's batches, paged (or as CSV)",
    response_model=None,
)
async def get_run_issues(
    run: Run,
    request: Request,
    workspace: Caller,
    after: str | None = Query(
        None,
        max_length=40,
        description="the previous page's 'next'",
        json_schema_extra={"pattern": "^[0-9]{1,18}[.][0-9]{1,18}$"},
    ),
    limit: int = Query(1000, ge=1, le=10_000),
    format: Literal["json", "csv"] = "json",
) -> dict[str, Any] | StreamingResponse:
    db = container(request).db
    name = run_name(run, "run")
    if format == "csv":
        await run_in_threadpool(lambda: runs.run_view(db, workspace, name))  # 404 before 200
        lines = iterate_in_threadpool(runs.run_issues_csv(db, workspace, name))
        disposition = f'attachment; filename="roster-run-{name}-issues.csv"'
        return StreamingResponse(
            lines, media_type="text/csv", headers={"Content-Disposition": disposition}
        )
    return await run_in_threadpool(
        lambda: runs.run_issues(db, workspace, name, after=after, limit=limit)
    )
