"""The Masivo-compatible loyalty migration, under ``/api/storefront/v1`` (seed 000).

Each request is checked at the door (``formats.masivo``), stored as a batch of its own kind
and answered 201 ``{"status": "enqueued", "batch_id"}``; a body that breaks a batch rule is
422 ``{"error", "details"}`` (``api.errors`` gives every refusal under this prefix the vendor's
shape). What each customer, event or transaction says is decided by the worker, into the
batch's ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from roster.api import schemas
from roster.api.deps import container, workspace_of
from roster.api.submit import read_write, submit
from roster.formats import masivo
from roster.formats.masivo import MigrationSummary
from roster.gc_pause import collector_paused
from roster.services.apply import kinds
from roster.services.apply.kinds import Kind

PREFIX = "/api/storefront/v1"
router = APIRouter(prefix=PREFIX, tags=["Masivo"])
ENQUEUED: dict[int | str, dict[str, Any]] = {401: {}, 403: {}, 413: {}, 415: {}, 422: {}, 429: {}}


async def enqueue(
    request: Request,
    response: Response,
    kind: Kind,
    read: Callable[[bytes], MigrationSummary],
    count: Callable[[MigrationSummary], tuple[int, int, int]],
) -> dict[str, Any]:
    """Authenticate, read the body within the migration limit, check it, accept it."""
    c = container(request)
    workspace = await workspace_of(request)
    raw, key = await read_write(request, c.settings.migration_max_body_bytes)
    summary, payload, prepared = await run_in_threadpool(_door, kind, read, raw)
    elements, users, events = count(summary)
    batch_id = await submit(
        request,
        response,
        workspace,
        kind=kind,
        payload=payload,
        elements=elements,
        users=users,
        events=events,
        key=key,
        prepared=prepared,
    )
    return {"status": "enqueued", "batch_id": batch_id}


def _door(
    kind: Kind, read: Callable[[bytes], MigrationSummary], raw: bytes
) -> tuple[MigrationSummary, bytes, bytes | None]:
    """Check the body, then read each of its entries here (the kind's ``prepare``, in
    ``formats.masivo_entries``), off the workspace's one-at-a-time apply path. The cyclic
    collector is paused meanwhile: the decoded trees hold no cycle, and its walks over them cost
    a third of the parse."""
    with collector_paused():
        summary = read(raw)
        payload = raw.removeprefix(b"\xef\xbb\xbf")
        return summary, payload, None if kind.prepare is None else kind.prepare(payload)


def _users(s: MigrationSummary) -> tuple[int, int, int]:
    """Customers (or ids to revert) are the elements, and count as users for rate limits."""
    return s.customers, s.customers, 0


def _events(s: MigrationSummary) -> tuple[int, int, int]:
    """Events (or transactions) are the elements, and count as events for rate limits."""
    return s.entries, 0, s.entries


@router.post(
    "/customers/migrate",
    summary="Migrate customers with their balances",
    openapi_extra={"requestBody": schemas.MIGRATE_CUSTOMERS_REQUEST},
    status_code=201,
    responses=ENQUEUED,
)
async def migrate_customers(request: Request, response: Response) -> dict[str, Any]:
    return await enqueue(request, response, kinds.MASIVO_CUSTOMERS, masivo.read_customers, _users)


@router.post(
    "/customers/migrate/events",
    summary="Migrate behaviour events",
    openapi_extra={"requestBody": schemas.MIGRATE_EVENTS_REQUEST},
    status_code=201,
    responses=ENQUEUED,
)
async def migrate_events(request: Request, response: Response) -> dict[str, Any]:
    return await enqueue(request, response, kinds.MASIVO_EVENTS, masivo.read_events, _events)


@router.post(
    "/customers/migrate/transactions",
    summary="Migrate wallet transactions",
    openapi_extra={"requestBody": schemas.MIGRATE_TRANSACTIONS_REQUEST},
    status_code=201,
    responses=ENQUEUED,
)
async def migrate_transactions(request: Request, response: Response) -> dict[str, Any]:
    read = masivo.read_transactions
    return await enqueue(request, response, kinds.MASIVO_TRANSACTIONS, read, _events)


@router.delete(
    "/customers/migrate",
    summary="Revert customer migrations",
    openapi_extra={"requestBody": schemas.REVERT_REQUEST},
    status_code=201,
    responses=ENQUEUED,
)
async def revert_migration(request: Request, response: Response) -> dict[str, Any]:
    return await enqueue(request, response, kinds.MASIVO_REVERT, masivo.read_revert, _users)
