"""A workspace's customers, browsed: a page (``GET /v1/customers`` without a lookup), a count,
and the export (``GET /v1/export/customers``, JSON lines streamed a page at a time).

Pages follow uid order with a cursor (``next``), so a page never repeats or skips a customer
whatever is written meanwhile (a customer created after the listing began shows on a later
page, at its place). A filter with no index of its own reads at most 50,000 customers a page
(``store.customer_list.SCAN_WINDOW``): such a page may hold fewer than ``limit``, even none,
with a ``next`` to go on; only ``next: null`` says the listing is over.

The export reads one page per short read transaction: memory stays flat whatever the
workspace's size, and each customer is as it was when its page was read (it is not one
snapshot of the whole workspace).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import msgspec

from roster.domain.errors import InvalidParameter
from roster.domain.identity import normalise_identifier
from roster.domain.timestamps import format_optional_ms as _iso
from roster.domain.workspaces import Workspace
from roster.services.reads import cursors
from roster.store import customer_list
from roster.store.customer_list import CustomerFilter
from roster.store.database import Database

MAX_PAGE = 1000
#: Customers the export reads per transaction.
EXPORT_PAGE = 1000

_encode = msgspec.json.Encoder().encode


def customer_filter(
    workspace: Workspace,
    *,
    attribute: str | None = None,
    value: str | None = None,
    migrated: bool | None = None,
    migrated_only: bool | None = None,
    created_since: int | None = None,
    updated_since: int | None = None,
) -> CustomerFilter:
    """The filter the query names; ``attribute`` and ``value`` go together. An identifier of
    the workspace is matched as lookups match it (normalised, through its index)."""
    if (attribute is None) != (value is None):
        field = "value" if value is None else "attribute"
        raise InvalidParameter("'attribute' and 'value' are given together", field=field)
    found_attribute = found_identifier = None
    if attribute is not None and value is not None:
        if '"' in attribute:
            msg = "'attribute' cannot hold '\"' (no attribute is named so)"
            raise InvalidParameter(msg, field="attribute")
        if attribute in workspace.identifiers:
            found_identifier = (attribute, normalise_identifier(attribute, value))
        else:
            found_attribute = (attribute, value)
    return CustomerFilter(
        attribute=found_attribute,
        identifier=found_identifier,
        migrated=migrated,
        migrated_only=migrated_only,
        created_since=created_since,
        updated_since=updated_since,
    )


def listing(
    db: Database,
    workspace: Workspace,
    found: CustomerFilter,
    *,
    after: str | None,
    limit: int,
    with_count: bool,
) -> dict[str, Any]:
    """A page of customers, the cursor of the next (``None`` after the last), and the count of
    all the filter takes if asked."""
    start = cursors.number(after)
    with db.read() as conn:
        rows, following = customer_list.page(conn, workspace.id, found, after=start, limit=limit)
        total = customer_list.count(conn, workspace.id, found) if with_count else None
    page: dict[str, Any] = {
        "customers": [summary(workspace, r) for r in rows],
        "next": None if following is None else str(following),
    }
    if with_count:
        page["count"] = total
    return page


def count(db: Database, workspace: Workspace, found: CustomerFilter) -> int:
    with db.read() as conn:
        return customer_list.count(conn, workspace.id, found)


def export_lines(db: Database, workspace: Workspace, found: CustomerFilter) -> Iterator[bytes]:
    """Every customer the filter takes, one JSON line each (as a listing shows it), read a
    page per transaction. A filter checked row by row is read a window at a time: the window's
    end is found once, not once per page."""
    after: int | None = None
    end: int | Literal["find"] | None = "find"
    while True:
        with db.read() as conn:
            if customer_list.scans(found) and end == "find":
                end = customer_list.window_end(conn, workspace.id, after)
            rows, after = customer_list.page(
                conn, workspace.id, found, after=after, limit=EXPORT_PAGE, end=end
            )
        if isinstance(end, int) and (after is None or after >= end):
            end = "find"  # the window is read: the next page finds the next one
        if rows:
            yield b"".join(_encode(summary(workspace, r)) + b"\n" for r in rows)
        if after is None:
            return


def summary(workspace: Workspace, row: dict[str, Any]) -> dict[str, Any]:
    """A customer as a listing shows it: its attributes and identifiers, not its devices,
    events or wallet (``GET /v1/customers/{customer_id}`` has those)."""
    attributes = msgspec.json.decode(row["attributes"])
    return {
        "uid": row["uid"],
        "customer_id": row["customer_id"],
        "attributes": attributes,
        "identifiers": {n: attributes[n] for n in workspace.identifiers if n in attributes},
        "migrated": bool(row["migrated"]),
        "migrated_only": bool(row["migrated"]) and row["live_since"] is None,
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
    }
