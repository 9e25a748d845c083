"""Customers: the search (a customer id, uid, identifier or attribute value) and a profile's
page: attributes with their source times, identifiers, devices, wallet, metrics and tier,
migration state, the timeline, the activity log and every event, page by page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from roster.api.params import MAX_UID
from roster.api.ui.pages import database, found, workspace
from roster.api.ui.sessions import SignedIn
from roster.api.ui.templating import HEADERS, render
from roster.domain.errors import InvalidParameter
from roster.domain.timestamps import parse_timestamp
from roster.services.dashboard import customer_search
from roster.services.reads import profiles

router = APIRouter(prefix="/ui/w/{workspace_id}")
EVENTS_PAGE = 25


@router.get("/customers")
def search_page(
    request: Request,
    workspace_id: str,
    session: SignedIn,
    q: str = Query("", max_length=512),
    by: str = Query(customer_search.AUTO, max_length=200),
    attribute: str = Query("", max_length=200),
    after: str | None = Query(None, max_length=20),
    from_batch: str | None = Query(None, max_length=40),
) -> Response:
    """Find a customer: one match opens its profile; an attribute's value lists the matches.
    Without a search, the workspace's customers are listed, a page at a time."""
    ws = workspace(request, workspace_id)
    db = database(request)
    context: dict[str, Any] = {"ws": ws, "q": q, "by": by, "attribute": attribute}
    context |= {"lookups": customer_search.lookups(ws), "matches": None, "problem": None}
    context["from_batch"] = from_batch
    if not q or by == customer_search.ATTRIBUTE:  # a list: every customer, or the matches
        chosen = (attribute, q) if q else (None, None)
        try:
            context["matches"] = customer_search.matches(db, ws, *chosen, after=after)
        except InvalidParameter as exc:
            context["problem"] = exc.message
        return render(request, "customers.html", context)
    uid = customer_search.find_uid(db, ws, q, by)
    if uid is None:
        context["problem"] = "No customer has this id or identifier."
        return render(request, "customers.html", context, status_code=404)
    query = {"uid": uid} | ({"from_batch": from_batch} if from_batch else {})
    target = f"/ui/w/{ws.id}/customer?{urlencode(query)}"
    return RedirectResponse(target, status_code=303, headers=HEADERS)


@router.get("/customer")
def profile_page(
    request: Request,
    workspace_id: str,
    session: SignedIn,
    uid: int = Query(ge=1, le=MAX_UID),
    from_batch: str | None = Query(None, max_length=40),
    events_until: int | None = Query(None, ge=0, le=MAX_UID),
    events_skip: int = Query(0, ge=0, le=100_000),
) -> Response:
    ws = workspace(request, workspace_id)
    db = database(request)
    profile, row = found(lambda: profiles.profile_and_row(db, ws, uid=uid))
    until = None if events_until is None else events_until + 1
    listed = profiles.event_list(db, row, since=None, until=until, limit=EVENTS_PAGE + events_skip)
    events = listed[events_skip:]
    context = {
        "ws": ws,
        "profile": profile,
        "from_batch": from_batch,
        "events": events,
        "events_next": _next_events(events, events_until, events_skip),
        "events_first": events_until is None,
        "activity": profiles.activity(db, row, limit=50),
        "transactions": profiles.transactions(db, row, limit=50),
        "timeline": profiles.timeline(db, ws, row, limit=200),
    }
    return render(request, "profile.html", context)


def _next_events(
    events: list[dict[str, Any]], until: int | None, skip: int
) -> dict[str, int] | None:
    """The cursor of the next page of events: the time of the last one shown and how many
    shown have that time (they come first when the next page reads up to it)."""
    if len(events) < EVENTS_PAGE:
        return None
    times = [parse_timestamp(e["occurred_at"]) for e in events]
    last = times[-1]
    same = sum(1 for t in times if t == last)
    return {"events_until": last, "events_skip": same + (skip if last == until else 0)}
