"""``POST /v1/customer/merge?app_id=``: MoEngage Merge Users (SPEC §5.2, seed 004).

The body is checked at the door as the vendor does (``formats.merges``: at most 50 pairs in
at most 128 KB, every id a string), stored as a ``moengage.merge`` batch of the workspace's
queue and answered 200 ``{"status": "success", "operation": "created", "batch_id"}``; each
pair's outcome is in the batch's ledger. Refused with 409 when the workspace has identity
resolution on. Each pair counts as one merged user against the workspace's merges budget.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response

from roster.api.deps import workspace_of
from roster.api.schemas import MERGE_REQUEST
from roster.api.submit import read_write, submit
from roster.domain.errors import Conflict, InvalidParameter
from roster.formats import merges

router = APIRouter(tags=["MoEngage"])


@router.post(
    "/v1/customer/merge",
    summary="Merge users: each merged user into its retained user (MoEngage)",
    openapi_extra={"requestBody": MERGE_REQUEST},
    responses={400: {}, 401: {}, 403: {}, 409: {}, 413: {}, 415: {}, 422: {}, 429: {}},
)
async def merge_users(
    request: Request,
    response: Response,
    app_id: str | None = Query(None, description="the workspace id (required)"),
) -> dict[str, Any]:
    if not app_id:
        raise InvalidParameter("app_id is required in path/query params.", field="app_id")
    workspace = await workspace_of(request, app_id)
    if workspace.identity_resolution:
        raise Conflict(
            "Merge Users is not available in a workspace with identity resolution on: "
            "profiles sharing an identifier are merged as they are imported",
            field="app_id",
        )
    raw, key = await read_write(request, merges.MAX_BODY_BYTES)
    pairs = merges.read_moengage_merge(raw)
    batch_id = await submit(
        request,
        response,
        workspace,
        kind=merges.MOENGAGE,
        payload=raw.removeprefix(b"\xef\xbb\xbf"),
        elements=pairs,
        users=0,
        events=0,
        merges=pairs,
        key=key,
    )
    return {"status": "success", "operation": "created", "batch_id": batch_id}
