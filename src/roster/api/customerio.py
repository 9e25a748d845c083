"""The Customer.io-compatible surface (seed 002): Data Pipelines calls and Track API v1.

Every call is checked at the door (``formats.customerio``), stored as a ``customerio`` batch and
answered at once with its ``batch_id``: Data Pipelines calls with ``{"success": true,
"batch_id"}``, Track API v1 calls with ``{"batch_id"}`` (Customer.io answers ``{}``). What each
call says (a missing ``userId``, a stale attribute, a duplicate ``messageId``) is decided by the
worker, into the batch's ledger. A person's deletion, devices and suppression are batches of
their own kinds (``people.delete``, ``customerio.device``, ``customerio.suppress``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from roster.api import schemas
from roster.api.deps import container, workspace_of
from roster.api.params import raw_path_id
from roster.api.submit import read_write, submit, submit_person_op
from roster.domain.workspaces import Workspace
from roster.formats import customerio as cio
from roster.formats import customerio_devices as devices_format
from roster.formats import deletions
from roster.formats.customerio_devices import DeviceOp
from roster.services.apply import kinds

router = APIRouter(tags=["Customer.io"])
RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {},
    401: {},
    413: {},
    415: {},
    422: {},
    429: {},
}


async def accept_call(
    request: Request, response: Response, call: str, limit: int, identifier: str | None = None
) -> str:
    """Authenticate, read and check the body, store it as a batch; return the batch id."""
    workspace = await workspace_of(request)
    raw, key = await read_write(request, limit)
    summary = cio.read_call(call, raw)
    return await submit(
        request,
        response,
        workspace,
        kind=kinds.CUSTOMERIO,
        payload=cio.stored_call(call, raw.removeprefix(b"\xef\xbb\xbf"), identifier),
        elements=summary.elements,
        users=summary.users,
        events=summary.events,
        key=key,
    )


#: Every Data Pipelines path: its errors also carry ``code`` and ``message`` at the top, which
#: Customer.io's and Segment's clients read (``api.errors``).
PIPELINES_PATHS: set[str] = set()


def _pipelines_route(call: str, summary: str) -> None:
    async def endpoint(request: Request, response: Response) -> dict[str, Any]:
        settings = container(request).settings
        limit = settings.batch_max_body_bytes if call == "batch" else settings.max_body_bytes
        batch_id = await accept_call(request, response, call, limit)
        return {"success": True, "batch_id": batch_id}

    endpoint.__name__ = f"pipelines_{call}"
    for path in (f"/v1/{call}", f"/v1/api/{call}"):
        PIPELINES_PATHS.add(path)
        router.add_api_route(
            path,
            endpoint,
            methods=["POST"],
            summary=summary,
            responses=RESPONSES,
            openapi_extra={"requestBody": schemas.PIPELINES_REQUESTS[call]},
        )


_pipelines_route("identify", "Identify a person and set traits (Data Pipelines)")
_pipelines_route("track", "Record an event of a person (Data Pipelines)")
_pipelines_route("page", "Record a page view (Data Pipelines)")
_pipelines_route("screen", "Record a screen view (Data Pipelines)")
_pipelines_route("alias", "Merge a previous id's profile into a person (Data Pipelines)")
_pipelines_route("group", "Make a person a member of a group and set its traits (Data Pipelines)")
_pipelines_route("batch", "Identify, track, page and screen calls in one request (Data Pipelines)")


# The Track API's person routes take any id the client can send: an id holding an encoded "/"
# is routed as one segment (``params.EncodedSlashes``) and read from the undecoded path.
@router.post(
    "/api/v1/customers/{identifier}/events",
    summary="Record an event of a person (Track API v1)",
    responses=RESPONSES,
    openapi_extra={"requestBody": schemas.V1_EVENT_REQUEST},
)
async def post_event(identifier: str, request: Request, response: Response) -> dict[str, Any]:
    ident = raw_path_id(request, 3, "identifier")
    limit = container(request).settings.max_body_bytes
    return {"batch_id": await accept_call(request, response, cio.V1_EVENT, limit, ident)}


async def _device_op(
    request: Request, response: Response, workspace: Workspace, op: DeviceOp
) -> dict[str, Any]:
    payload = devices_format.encode(op)
    kind = kinds.CUSTOMERIO_DEVICE
    return {
        "batch_id": await submit_person_op(request, response, workspace, kind=kind, payload=payload)
    }


def _target(identifier: str) -> deletions.Target:
    """The person a Track API path names: by email if the identifier holds ``@``."""
    by: deletions.By = "email" if cio.is_email(identifier) else "customer_id"
    return deletions.Target(by, identifier, "identifier")


@router.put(
    "/api/v1/customers/{identifier}/devices",
    summary="Add or update a device of a person (Track API v1)",
    responses=RESPONSES,
    openapi_extra={"requestBody": schemas.V1_DEVICE_REQUEST},
)
async def put_device(identifier: str, request: Request, response: Response) -> dict[str, Any]:
    """``{"device": {"id", "platform", "last_used", "attributes"}}``: the id is the push token,
    the platform ``ios`` or ``android``; a person no one holds is created."""
    ident = raw_path_id(request, 3, "identifier")
    workspace = await workspace_of(request)
    raw, _ = await read_write(request, container(request).settings.max_body_bytes)
    op = devices_format.read_add(raw, ident, by_email=cio.is_email(ident))
    return await _device_op(request, response, workspace, op)


@router.delete(
    "/api/v1/customers/{identifier}/devices/{device_id}",
    summary="Remove a device of a person (Track API v1)",
    responses=RESPONSES,
)
async def delete_device(
    identifier: str, device_id: str, request: Request, response: Response
) -> dict[str, Any]:
    ident = raw_path_id(request, 3, "identifier")
    device = raw_path_id(request, 5, "device_id")
    op = devices_format.read_delete(ident, device, by_email=cio.is_email(ident))
    return await _device_op(request, response, await workspace_of(request), op)


def _suppression_route(op: str, summary: str) -> None:
    async def endpoint(identifier: str, request: Request, response: Response) -> dict[str, Any]:
        ident = raw_path_id(request, 3, "identifier")
        workspace = await workspace_of(request)
        found = deletions.Suppression(op, _target(ident))  # type: ignore[arg-type]
        payload = deletions.encode_suppression(found)
        kind = kinds.CUSTOMERIO_SUPPRESS
        batch_id = await submit_person_op(request, response, workspace, kind=kind, payload=payload)
        return {"batch_id": batch_id}

    endpoint.__name__ = f"{op}_customer"
    router.add_api_route(
        f"/api/v1/customers/{{identifier}}/{op}",
        endpoint,
        methods=["POST"],
        summary=summary,
        responses=RESPONSES,
    )


_suppression_route("suppress", "Delete a person and keep its identifier out (Track API v1)")
_suppression_route("unsuppress", "Let a suppressed identifier in again (Track API v1)")


@router.delete(
    "/api/v1/customers/{identifier}",
    summary="Delete a person with its devices and events (Track API v1)",
    responses=RESPONSES,
)
async def delete_customer(identifier: str, request: Request, response: Response) -> dict[str, Any]:
    """An identifier holding ``@`` names the person by email; the ledger says whether it was
    deleted (``unknown_customer``, ``has_wallet`` otherwise). The body, if any, is ignored."""
    ident = raw_path_id(request, 3, "identifier")
    workspace = await workspace_of(request)
    payload = deletions.encode(_target(ident))
    kind = kinds.PEOPLE_DELETE
    return {
        "batch_id": await submit_person_op(request, response, workspace, kind=kind, payload=payload)
    }


@router.put(
    "/api/v1/customers/{identifier}",
    summary="Add or update a person (Track API v1); an email address finds the person by email",
    responses=RESPONSES,
    openapi_extra={"requestBody": schemas.V1_PERSON_REQUEST},
)
async def put_customer(identifier: str, request: Request, response: Response) -> dict[str, Any]:
    ident = raw_path_id(request, 3, "identifier")
    limit = container(request).settings.max_body_bytes
    return {"batch_id": await accept_call(request, response, cio.V1_PERSON, limit, ident)}


@router.post(
    "/api/v1/events",
    summary="Record an anonymous event (Track API v1): kept on the anonymous_id's profile",
    responses=RESPONSES,
    openapi_extra={"requestBody": schemas.V1_ANONYMOUS_EVENT_REQUEST},
)
async def post_anonymous_event(request: Request, response: Response) -> dict[str, Any]:
    limit = container(request).settings.max_body_bytes
    call = cio.V1_ANONYMOUS_EVENT
    return {"batch_id": await accept_call(request, response, call, limit)}


@router.post(
    "/api/v1/merge_customers",
    summary="Merge a secondary person into a primary one (Track API v1)",
    responses=RESPONSES,
    openapi_extra={"requestBody": schemas.V1_MERGE_REQUEST},
)
async def merge_customers(request: Request, response: Response) -> dict[str, Any]:
    """The primary keeps its values and gains only the attributes it lacks; the secondary's
    events of the last 30 days move and can no longer trigger campaigns."""
    workspace = await workspace_of(request)
    raw, key = await read_write(request, container(request).settings.max_body_bytes)
    cio.read_customerio_merge(raw)
    batch_id = await submit(
        request,
        response,
        workspace,
        kind=kinds.CUSTOMERIO_MERGE,
        payload=raw.removeprefix(b"\xef\xbb\xbf"),
        elements=1,
        users=0,
        events=0,
        merges=1,
        key=key,
    )
    return {"batch_id": batch_id}
