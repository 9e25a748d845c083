"""What every write endpoint does around its own door: read the body, then store the batch."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from roster.api import body as bodies
from roster.api.deps import container
from roster.domain.batches import DRY_RUN_HEADER, RUN_HEADER, run_name
from roster.domain.errors import InvalidParameter
from roster.domain.workspaces import Workspace
from roster.services.apply.kinds import Kind
from roster.services.intake.accept import Submission, accept, check_idempotency_key
from roster.store.batch_chunks import StoredChunk


async def read_write(request: Request, limit: int) -> tuple[bytes, str | None]:
    """A JSON body of at most ``limit`` bytes and the request's ``Idempotency-Key``."""
    bodies.require_json(request)
    key = check_idempotency_key(request.headers.get("idempotency-key"))
    return await bodies.read_capped(request, limit), key


async def submit(
    request: Request,
    response: Response,
    workspace: Workspace,
    *,
    kind: Kind,
    payload: bytes,
    elements: int,
    users: int,
    events: int,
    key: str | None,
    prepared: bytes | None = None,
    chunks: Callable[[], Iterable[StoredChunk]] | None = None,
    merges: int = 0,
    named_run: bool = True,
) -> str:
    """Store the batch (acknowledged once committed) and return its id; a replay of an
    idempotent request is marked ``Idempotent-Replayed: true``. A run named in the request's
    ``X-Roster-Run`` header is recorded on the batch."""
    run = request.headers.get(RUN_HEADER) if named_run else None
    dry_run = _dry_run(request.headers.get(DRY_RUN_HEADER) if named_run else None, run)
    sub = Submission(
        kind=kind.name,
        payload=payload,
        elements=elements,
        users=users,
        events=events,
        idempotency_key=key,
        forwarded_for=request.headers.get("x-forwarded-for"),
        prepared=prepared,
        chunks=chunks,
        merges=merges,
        run=None if run is None else run_name(run),
        dry_run=dry_run,
    )
    result = await run_in_threadpool(accept, container(request).db, workspace, sub)
    request.state.batch_id = result.batch_id  # for the access log
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    if result.budget is not None:  # what is left, so a client paces itself before a 429
        response.headers["X-RateLimit-Limit"] = str(result.budget.limit)
        response.headers["X-RateLimit-Remaining"] = str(result.budget.remaining)
        response.headers["X-RateLimit-Reset"] = str(result.budget.reset_at)
    return result.batch_id


async def submit_person_op(
    request: Request, response: Response, workspace: Workspace, *, kind: Kind, payload: bytes
) -> str:
    """Store one operation on one person (a deletion, a device, a suppression): one element,
    charged as one user, under the request's ``Idempotency-Key``."""
    key = check_idempotency_key(request.headers.get("idempotency-key"))
    return await submit(
        request,
        response,
        workspace,
        kind=kind,
        payload=payload,
        elements=1,
        users=1,
        events=0,
        key=key,
    )


def _dry_run(value: str | None, run: str | None) -> bool:
    """``X-Roster-Dry-Run: true`` (or ``false``); a dry run must be named (``X-Roster-Run``)."""
    if value is None or value.strip().lower() == "false":
        return False
    if value.strip().lower() != "true":
        msg = f"{DRY_RUN_HEADER} must be true or false, got {value[:20]!r}"
        raise InvalidParameter(msg, field=DRY_RUN_HEADER)
    if run is None:
        msg = f"a dry run is decided as a whole: name it with {RUN_HEADER}"
        raise InvalidParameter(msg, field=RUN_HEADER)
    return True
