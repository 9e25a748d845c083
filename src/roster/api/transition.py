"""``POST /v1/transition/{workspace_id}``: MoEngage Bulk Import, accepted into the ledger."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from roster.api.deps import container, workspace_of
from roster.api.schemas import TRANSITION_REQUEST
from roster.api.submit import read_write, submit
from roster.formats.moengage import read_transition

router = APIRouter(tags=["MoEngage"])
ACCEPTED = "Your request has been accepted and will be processed soon."


@router.post(
    "/v1/transition/{workspace_id}",
    summary="Bulk import customers, devices and events (MoEngage)",
    openapi_extra={"requestBody": TRANSITION_REQUEST},
    responses={400: {}, 401: {}, 403: {}, 413: {}, 415: {}, 422: {}, 429: {}},
)
async def transition(workspace_id: str, request: Request, response: Response) -> dict[str, Any]:
    c = container(request)
    workspace = await workspace_of(request, workspace_id)
    raw, key = await read_write(request, c.settings.max_body_bytes)
    payload = raw.removeprefix(b"\xef\xbb\xbf")
    # Parse the raw body (its one BOM is skipped there): parsing ``payload`` would skip a second
    # BOM too, accepting a body the worker cannot decode.
    summary = read_transition(raw)
    batch_id = await submit(
        request,
        response,
        workspace,
        kind="transition",
        payload=payload,
        elements=summary.elements,
        users=summary.users,
        events=summary.events,
        key=key,
    )
    return {"status": "success", "message": ACCEPTED, "batch_id": batch_id}
