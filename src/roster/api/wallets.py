"""A customer's wallet transactions: live ones written (native API), all of them read back.

``POST /v1/customers/{customer_id}/transactions`` takes one transaction (``type``,
``reward_id``, signed ``amount``, optional ``issued_at``/``resolved_at``/``details``), stores it
as a batch like every write and answers 202 with its ``batch_id``; the worker applies it to the
wallet in the workspace's batch order.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from roster.api import schemas
from roster.api.deps import caller, container
from roster.api.params import text_param
from roster.api.submit import read_write, submit
from roster.domain.workspaces import Workspace
from roster.formats import masivo
from roster.services.apply import kinds
from roster.services.reads import profiles

router = APIRouter(tags=["Wallets"])
Caller = Annotated[Workspace, Depends(caller)]


@router.post(
    "/v1/customers/{customer_id}/transactions",
    summary="Record a live wallet transaction (accrual, redemption, ...)",
    status_code=202,
    openapi_extra={"requestBody": schemas.LIVE_TRANSACTION_REQUEST},
    responses={400: {}, 401: {}, 413: {}, 415: {}, 429: {}},
)
async def post_transaction(
    customer_id: str, request: Request, response: Response, workspace: Caller
) -> dict[str, Any]:
    c = container(request)
    cid = text_param(customer_id, "customer_id")
    raw, key = await read_write(request, c.settings.max_body_bytes)
    masivo.read_live_transaction(raw)
    batch_id = await submit(
        request,
        response,
        workspace,
        kind=kinds.WALLET_TRANSACTION,
        payload=masivo.live_transaction_payload(cid, raw.removeprefix(b"\xef\xbb\xbf")),
        elements=1,
        users=0,
        events=1,
        key=key,
    )
    return {"status": "accepted", "batch_id": batch_id}


@router.get("/v1/customers/{customer_id}/transactions", summary="Wallet transactions, newest first")
async def get_transactions(
    customer_id: str,
    request: Request,
    workspace: Caller,
    limit: int = Query(100, ge=1, le=10_000),
) -> dict[str, Any]:
    db = container(request).db

    def load() -> dict[str, Any]:
        row = profiles.find_customer(db, workspace, text_param(customer_id, "customer_id"))
        return {"transactions": profiles.transactions(db, row, limit=limit)}

    return await run_in_threadpool(load)
