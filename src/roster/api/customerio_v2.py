"""Customer.io's Track API v2: ``POST /api/v2/batch`` and ``POST /api/v2/entity``.

The door checks the envelope (``formats.customerio_v2``) and stores the request as one
``customerio.v2`` batch, answered at once with its ``batch_id``; each operation (an identify,
an event, a device, a deletion, a merge, ...) is applied by the worker in request order, by the
rules of the v1 call of the same name, into the batch's ledger. An invalid operation fails in
the ledger and the others are applied, where Customer.io answers ``207`` listing the invalid.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from roster.api.customerio import RESPONSES
from roster.api.deps import container, workspace_of
from roster.api.submit import read_write, submit
from roster.formats import customerio_v2 as v2
from roster.services.apply import kinds

router = APIRouter(tags=["Customer.io"])

#: The request bodies as the door checks them; each operation is judged in the ledger.
_OPERATION: dict[str, Any] = {
    "type": "object",
    "description": (
        "One operation: `type` (person), `action` (identify, event, page, screen, delete, "
        "add_device, delete_device, suppress, unsuppress, merge), `identifiers` ({id} or "
        "{email}), and the action's fields. Checked per operation by the worker: problems "
        "go to the batch's ledger (x-roster-ledger)."
    ),
    "x-roster-ledger": True,
}
_BATCH_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["batch"],
                "properties": {"batch": {"type": "array", "minItems": 1, "items": _OPERATION}},
            }
        }
    },
}
_ENTITY_BODY = {"required": True, "content": {"application/json": {"schema": _OPERATION}}}


async def _accept(request: Request, response: Response, *, entity: bool) -> dict[str, Any]:
    workspace = await workspace_of(request)
    settings = container(request).settings
    limit = settings.max_body_bytes if entity else settings.batch_max_body_bytes
    raw, key = await read_write(request, limit)
    found = v2.read_request(raw.removeprefix(b"\xef\xbb\xbf"), entity=entity)
    batch_id = await submit(
        request,
        response,
        workspace,
        kind=kinds.CUSTOMERIO_V2,
        payload=found.payload,
        elements=found.elements,
        users=found.users,
        events=found.events,
        key=key,
    )
    return {"batch_id": batch_id}


@router.post(
    "/api/v2/batch",
    summary="Operations on people, in order: identify, events, devices, deletes, merges (v2)",
    responses=RESPONSES,
    openapi_extra={"requestBody": _BATCH_BODY},
)
async def post_batch(request: Request, response: Response) -> dict[str, Any]:
    return await _accept(request, response, entity=False)


@router.post(
    "/api/v2/entity",
    summary="One operation on a person (Track API v2)",
    responses=RESPONSES,
    openapi_extra={"requestBody": _ENTITY_BODY},
)
async def post_entity(request: Request, response: Response) -> dict[str, Any]:
    return await _accept(request, response, entity=True)
