"""The MoEngage-compatible surface: Bulk Import, Track User, Track Event, Track Device and Merge
Users, accepted into the ledger.

``POST /v1/transition/{workspace_id}`` (Bulk Import) stores customers, devices and events as a
``transition`` batch. ``POST /v1/customer/merge?app_id=`` (Merge Users, seed 004) is checked at
the door as the vendor does (``formats.moengage``: at most 50 pairs in at most 128 KB, every id a
string), stored as a ``moengage.merge`` batch of the workspace's queue and answered 200
``{"status": "success", "operation": "created", "batch_id"}``; each pair's outcome is in the
batch's ledger. Refused with 409 when the workspace has identity resolution on. Each pair counts
as one merged user against the workspace's merges budget. ``POST /v1/customer/{app_id}``,
``/v1/event/{app_id}`` and ``/v1/device/{app_id}`` take one element each (at most 128 KB, as the
vendor's Track APIs do) and store it as a one-element ``transition`` batch.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response

from roster.api.deps import container, workspace_of
from roster.api.openapi import REQUIRED
from roster.api.schemas import (
    DELETE_USER_REQUEST,
    MERGE_REQUEST,
    SINGLE_REQUESTS,
    TRANSITION_REQUEST,
)
from roster.api.submit import read_write, submit, submit_person_op
from roster.domain.errors import Conflict, InvalidParameter
from roster.domain.workspaces import Workspace
from roster.formats import deletions, moengage
from roster.services.apply import kinds

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
    summary = moengage.read_transition(raw)
    return await _accepted(request, response, workspace, payload, summary, key)


async def _accepted(
    request: Request,
    response: Response,
    workspace: Workspace,
    payload: bytes,
    summary: moengage.TransitionSummary,
    key: str | None,
) -> dict[str, Any]:
    """Store a transition body as a batch; MoEngage's answer with the batch id."""
    batch_id = await submit(
        request,
        response,
        workspace,
        kind=kinds.TRANSITION,
        payload=payload,
        elements=summary.elements,
        users=summary.users,
        events=summary.events,
        key=key,
    )
    return {"status": "success", "message": ACCEPTED, "batch_id": batch_id}


@router.post(
    "/v1/customer/merge",
    summary="Merge users: each merged user into its retained user (MoEngage)",
    openapi_extra={"requestBody": MERGE_REQUEST},
    responses={400: {}, 401: {}, 403: {}, 409: {}, 413: {}, 415: {}, 422: {}, 429: {}},
)
async def merge_users(
    request: Request,
    response: Response,
    app_id: str | None = Query(None, description="the workspace id", json_schema_extra=REQUIRED),
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
    raw, key = await read_write(request, moengage.MERGE_MAX_BODY_BYTES)
    pairs = moengage.read_moengage_merge(raw)
    batch_id = await submit(
        request,
        response,
        workspace,
        kind=kinds.MOENGAGE_MERGE,
        payload=raw.removeprefix(b"\xef\xbb\xbf"),
        elements=pairs,
        users=0,
        events=0,
        merges=pairs,
        key=key,
    )
    return {"status": "success", "operation": "created", "batch_id": batch_id}


@router.post(
    "/v1/customer/delete",
    summary="Delete a user with its devices and events (MoEngage Delete User)",
    openapi_extra={"requestBody": DELETE_USER_REQUEST},
    responses={400: {}, 401: {}, 403: {}, 413: {}, 415: {}, 422: {}, 429: {}},
)
async def delete_user(
    request: Request,
    response: Response,
    app_id: str | None = Query(None, description="the workspace id", json_schema_extra=REQUIRED),
) -> dict[str, Any]:
    """One user a request, by ``customer_id`` or ``moengage_id`` (Roster's uid); the ledger
    says whether it was deleted (``unknown_customer``, ``has_wallet`` otherwise)."""
    if not app_id:
        raise InvalidParameter("app_id is required in path/query params.", field="app_id")
    workspace = await workspace_of(request, app_id)
    raw, _ = await read_write(request, moengage.SINGLE_MAX_BODY_BYTES)
    payload = deletions.encode(moengage.read_moengage_delete(raw))
    kind = kinds.PEOPLE_DELETE
    batch_id = await submit_person_op(request, response, workspace, kind=kind, payload=payload)
    return {"status": "success", "message": ACCEPTED, "batch_id": batch_id}


def _single_route(element_type: str, path: str, summary: str) -> None:
    """Track User, Track Event or Track Device: one element, stored as a one-element
    transition batch (the same rules and ledger as Bulk Import)."""

    async def endpoint(app_id: str, request: Request, response: Response) -> dict[str, Any]:
        workspace = await workspace_of(request, app_id)
        raw, key = await read_write(request, moengage.SINGLE_MAX_BODY_BYTES)
        payload, found = moengage.single_as_transition(raw, element_type)
        return await _accepted(request, response, workspace, payload, found, key)

    endpoint.__name__ = f"track_{element_type}"
    router.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        summary=summary,
        responses={400: {}, 401: {}, 403: {}, 413: {}, 415: {}, 422: {}, 429: {}},
        openapi_extra={"requestBody": SINGLE_REQUESTS[element_type]},
    )


# After ``/v1/customer/merge`` and ``/delete``: a workspace id in the path never shadows them.
_single_route("customer", "/v1/customer/{app_id}", "Create or update a user (MoEngage Track User)")
_single_route("event", "/v1/event/{app_id}", "Record one user's events (MoEngage Track Event)")
_single_route("device", "/v1/device/{app_id}", "Add or update one device (MoEngage Track Device)")
