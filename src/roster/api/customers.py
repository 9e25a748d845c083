"""The read API: a profile by ``customer_id``, ``uid`` or identifier; its events and activity."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from roster.api.deps import caller, container
from roster.api.params import MAX_UID, TIME_SCHEMA, text_param
from roster.api.query_check import OPEN_QUERY, refuse_unknown, taken_by
from roster.domain.errors import InvalidParameter
from roster.domain.identity import ANONYMOUS_ID
from roster.domain.timestamps import InvalidTimestamp, parse_timestamp
from roster.domain.workspaces import Workspace
from roster.services.reads import customer_list, profiles
from roster.store.customer_list import CustomerFilter

router = APIRouter(tags=["Customers"])
Caller = Annotated[Workspace, Depends(caller)]


@router.get("/v1/customers/{customer_id}", summary="A customer's profile")
async def get_customer(customer_id: str, request: Request, workspace: Caller) -> dict[str, Any]:
    db = container(request).db

    def load() -> dict[str, Any]:
        cid = text_param(customer_id, "customer_id")
        return profiles.profile(db, workspace, customer_id=cid)

    return await run_in_threadpool(load)


def customer_filters(
    workspace: Caller,
    attribute: str | None = Query(None, max_length=200, description="list: with `value`"),
    value: str | None = Query(
        None, max_length=1000, description="list: customers whose `attribute` holds it (as text)"
    ),
    migrated: bool | None = Query(None, description="list: migrated by a Masivo migration"),
    migrated_only: bool | None = Query(None, description="list: migrated, changed by nothing else"),
    created_since: str | None = Query(None, json_schema_extra=TIME_SCHEMA),
    updated_since: str | None = Query(None, json_schema_extra=TIME_SCHEMA),
) -> CustomerFilter:
    """The filters a listing and the export share."""
    return customer_list.customer_filter(
        workspace,
        attribute=attribute,
        value=value,
        migrated=migrated,
        migrated_only=migrated_only,
        created_since=_time(created_since, "created_since"),
        updated_since=_time(updated_since, "updated_since"),
    )


Filters = Annotated[CustomerFilter, Depends(customer_filters)]


@router.get(
    "/v1/customers",
    summary="List the workspace's customers (paged, filtered, counted), or find one by "
    "customer_id, uid or an identifier (?email=)",
    responses={404: {"description": "No such customer (a lookup)"}},
    openapi_extra={OPEN_QUERY: "the workspace's identifier attributes, e.g. ?email="},
)
async def customers(
    request: Request,
    workspace: Caller,
    found: Filters,
    uid: int | None = Query(None, ge=1, le=MAX_UID, description="lookup: this uid's profile"),
    customer_id: str | None = Query(
        None, description="lookup: for ids a path cannot carry, e.g. 'a/b'"
    ),
    after: str | None = Query(None, max_length=20, description="list: the previous page's `next`"),
    limit: int = Query(100, ge=1, le=customer_list.MAX_PAGE),
    count: bool = Query(False, description="list: also count every customer the filters take"),
) -> dict[str, Any]:
    """Without a lookup parameter, a page of customers in uid order: `{"customers", "next",
    "count"}`; pass `next` as `after` for the page after. With one (`customer_id`, `uid` or an
    identifier such as `email`), that customer's profile, as `GET /v1/customers/{id}`."""
    db = container(request).db
    names = {*workspace.identifiers, ANONYMOUS_ID}  # every workspace indexes anonymous ids
    declared = taken_by(request.scope["route"])  # the lookup and the listing's parameters
    refuse_unknown(list(request.query_params), declared | names)
    identifier = next(
        (
            (n, text_param(v, n, max_length=512))
            for n, v in request.query_params.items()
            if n in names
        ),
        None,
    )
    if uid is None and identifier is None and customer_id is None:
        return await run_in_threadpool(
            customer_list.listing, db, workspace, found, after=after, limit=limit, with_count=count
        )
    if mixed := [n for n in request.query_params if n in declared - LOOKUP]:
        msg = f"'{mixed[0]}' lists customers: a lookup takes one of customer_id, uid, an identifier"
        raise InvalidParameter(msg, field=mixed[0])
    cid = None if customer_id is None else text_param(customer_id, "customer_id")

    def load() -> dict[str, Any]:
        return profiles.profile(db, workspace, customer_id=cid, uid=uid, identifier=identifier)

    return await run_in_threadpool(load)


#: The parameters that look one customer up; every other one the route declares lists them.
LOOKUP = frozenset({"uid", "customer_id"})


@router.get(
    "/v1/export/customers",
    summary="Every customer (filtered as a listing), as JSON lines, streamed",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
async def export_customers(
    request: Request, workspace: Caller, found: Filters
) -> StreamingResponse:
    """One line per customer, in uid order, each as a listing shows it. It is read a thousand
    customers per transaction, so memory stays flat; `X-Roster-Count` says how many there are
    as the export starts (customers written meanwhile may be added)."""
    db = container(request).db
    total = await run_in_threadpool(customer_list.count, db, workspace, found)
    return StreamingResponse(
        customer_list.export_lines(db, workspace, found),
        media_type="application/x-ndjson",
        headers={"X-Roster-Count": str(total)},
    )


def _time(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except InvalidTimestamp as exc:
        raise InvalidParameter(f"{name}: {exc}", field=name) from None


@router.get("/v1/customers/{customer_id}/events", summary="All stored events, newest first")
async def customer_events(
    customer_id: str,
    request: Request,
    workspace: Caller,
    since: str | None = Query(None, json_schema_extra=TIME_SCHEMA),
    until: str | None = Query(None, json_schema_extra=TIME_SCHEMA),
    limit: int = Query(100, ge=1, le=10_000),
) -> dict[str, Any]:
    db = container(request).db
    lo, hi = _time(since, "since"), _time(until, "until")

    def load() -> dict[str, Any]:
        row = profiles.find_customer(db, workspace, text_param(customer_id, "customer_id"))
        return {"events": profiles.event_list(db, row, since=lo, until=hi, limit=limit)}

    return await run_in_threadpool(load)


@router.get("/v1/customers/{customer_id}/activity", summary="Activity log: the last 30 days")
async def customer_activity(
    customer_id: str, request: Request, workspace: Caller, limit: int = Query(100, ge=1, le=10_000)
) -> dict[str, Any]:
    db = container(request).db

    def load() -> dict[str, Any]:
        row = profiles.find_customer(db, workspace, text_param(customer_id, "customer_id"))
        return {"events": profiles.activity(db, row, limit=limit)}

    return await run_in_threadpool(load)


@router.get(
    "/v1/customers/{customer_id}/timeline",
    summary="What made the profile what it is: imports, merges, reverts, skipped stale updates",
)
async def customer_timeline(
    customer_id: str,
    request: Request,
    workspace: Caller,
    limit: int = Query(1000, ge=1, le=10_000),
) -> dict[str, Any]:
    cid = text_param(customer_id, "customer_id")
    return await _timeline(request, workspace, cid, None, limit)


@router.get(
    "/v1/uids/{uid}/timeline",
    summary="The timeline of a customer by uid (a merged customer's tombstone keeps only that)",
)
async def uid_timeline(
    request: Request,
    workspace: Caller,
    uid: int = Path(ge=1, le=MAX_UID),
    limit: int = Query(1000, ge=1, le=10_000),
) -> dict[str, Any]:
    return await _timeline(request, workspace, None, uid, limit)


async def _timeline(
    request: Request, workspace: Workspace, customer_id: str | None, uid: int | None, limit: int
) -> dict[str, Any]:
    db = container(request).db

    def load() -> dict[str, Any]:
        row = profiles.find_customer(db, workspace, customer_id, uid)
        return {"uid": row["uid"], "timeline": profiles.timeline(db, workspace, row, limit=limit)}

    return await run_in_threadpool(load)


@router.get("/v1/groups/{group_id}", summary="A Data Pipelines group: its traits and members")
async def get_group(group_id: str, request: Request, workspace: Caller) -> dict[str, Any]:
    db = container(request).db
    gid = text_param(group_id, "group_id")
    return await run_in_threadpool(lambda: profiles.group(db, workspace, gid))


@router.get("/v1/uids/{uid}/events", summary="All stored events of a customer by uid")
async def uid_events(
    request: Request,
    workspace: Caller,
    uid: int = Path(ge=1, le=MAX_UID),
    limit: int = Query(100, ge=1, le=10_000),
) -> dict[str, Any]:
    db = container(request).db

    def load() -> dict[str, Any]:
        row = profiles.find_customer(db, workspace, None, uid)
        return {"events": profiles.event_list(db, row, since=None, until=None, limit=limit)}

    return await run_in_threadpool(load)
