"""A workspace's customers, listed: a page in uid order (keyset, ``uid > after``), a count, and
the filters both take. Customers merged away (tombstones) are never listed.

Each page is one indexed seek (``ix_customers_workspace_id_uid``). A filter with no index of
its own (an attribute that is not an identifier, the migration state, a change time) is
checked row by row, so a page reads at most ``SCAN_WINDOW`` customers past the cursor: a page
may then hold fewer than asked, and its ``next`` goes on from where the window ended, so a rare
value in a large workspace costs many short requests, never one long one. An attribute filter
compares the attribute's value as text (``"pro"``, ``3``, ``true``) in SQL; when the attribute
is one of the workspace's identifiers it is answered from the identifier index instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from roster.store.schema import customer_identifiers as it
from roster.store.schema import customers as t


@dataclass(frozen=True, slots=True)
class CustomerFilter:
    """Which customers a listing or an export takes (every one given must hold)."""

    #: ``(name, value)``: the attribute holds this value, compared as text.
    attribute: tuple[str, str] | None = None
    #: ``(name, normalised value)``: the customer holds this identifier (indexed).
    identifier: tuple[str, str] | None = None
    #: Migrated by a Masivo migration (``True``), or not.
    migrated: bool | None = None
    #: Migrated and changed by nothing else since (``True``), or not.
    migrated_only: bool | None = None
    created_since: int | None = None
    updated_since: int | None = None


#: The most customers a page reads when a filter has no index of its own.
SCAN_WINDOW = 50_000

#: The columns a listed customer is shown with.
COLUMNS = (
    t.c.uid,
    t.c.customer_id,
    t.c.attributes,
    t.c.created_at,
    t.c.updated_at,
    t.c.migrated,
    t.c.live_since,
)


def page(
    conn: Connection,
    workspace_id: str,
    found: CustomerFilter,
    *,
    after: int | None,
    limit: int,
    end: int | Literal["find"] | None = "find",
) -> tuple[list[dict[str, Any]], int | None]:
    """At most ``limit`` customers past uid ``after``, in uid order, and the cursor of the
    next page (``None`` after the last). A filter checked row by row reads up to the uid
    ``end`` of the window the cursor is in: ``"find"`` it (``window_end``), or give the one a
    caller paging through a window already found (``None``: the last window)."""
    if not scans(found):
        end = None
    elif end == "find":
        end = window_end(conn, workspace_id, after)
    query = page_query(conn, workspace_id, found, after=after, limit=limit)
    if end is not None:
        query = query.where(t.c.uid <= end)
    rows = [dict(r) for r in conn.execute(query).mappings()]
    if len(rows) == limit:
        return rows, int(rows[-1]["uid"])
    return rows, end  # the window read whole: go on past it (None: nothing is left)


def window_end(conn: Connection, workspace_id: str, after: int | None) -> int | None:
    """The uid ``SCAN_WINDOW`` customers past ``after`` (a walk of the index alone); ``None``
    when fewer are left."""
    query = sa.select(t.c.uid).where(t.c.workspace_id == workspace_id)
    if after is not None:
        query = query.where(t.c.uid > after)
    found = conn.execute(query.order_by(t.c.uid).offset(SCAN_WINDOW - 1).limit(1)).scalar()
    return None if found is None else int(found)


def scans(found: CustomerFilter) -> bool:
    """Whether the filter is checked row by row (no index of its own takes it)."""
    return (
        found.attribute is not None
        or found.migrated is not None
        or found.migrated_only is not None
        or found.created_since is not None
        or found.updated_since is not None
    )


def count(conn: Connection, workspace_id: str, found: CustomerFilter) -> int:
    return int(conn.execute(count_query(conn, workspace_id, found)).scalar_one())


def page_query(
    conn: Connection, workspace_id: str, found: CustomerFilter, *, after: int | None, limit: int
) -> sa.Select[Any]:
    """The query of ``page`` (the benchmark reads its plan)."""
    query = sa.select(*COLUMNS).where(*_conditions(conn, workspace_id, found))
    if after is not None:
        query = query.where(t.c.uid > after)
    return query.order_by(t.c.uid).limit(limit)


def count_query(conn: Connection, workspace_id: str, found: CustomerFilter) -> sa.Select[Any]:
    """The query of ``count``."""
    return sa.select(sa.func.count()).where(*_conditions(conn, workspace_id, found))


def _conditions(
    conn: Connection, workspace_id: str, found: CustomerFilter
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [t.c.workspace_id == workspace_id, t.c.merged_into.is_(None)]
    if found.identifier is not None:
        name, value = found.identifier
        held = sa.select(it.c.uid).where(
            it.c.workspace_id == workspace_id, it.c.name == name, it.c.value == value
        )
        where.append(t.c.uid.in_(held))
    if found.attribute is not None:
        name, value = found.attribute
        where.append(_attribute_text(conn, name) == value)
    if found.migrated is not None:
        where.append(
            t.c.migrated.is_(sa.true()) if found.migrated else t.c.migrated.is_(sa.false())
        )
    if found.migrated_only is not None:
        only = sa.and_(t.c.migrated.is_(sa.true()), t.c.live_since.is_(None))
        where.append(only if found.migrated_only else sa.not_(only))
    if found.created_since is not None:
        where.append(t.c.created_at >= found.created_since)
    if found.updated_since is not None:
        where.append(t.c.updated_at >= found.updated_since)
    return where


def _attribute_text(conn: Connection, name: str) -> ColumnElement[Any]:
    """The attribute's value as text: a string as itself, a number or boolean as JSON writes
    it; an object, an array or no value gives NULL (never equal)."""
    if conn.dialect.name == "postgresql":
        value = sa.cast(t.c.attributes, JSONB)[name]
        scalar = sa.func.jsonb_typeof(value).in_(("string", "number", "boolean"))
        return sa.case((scalar, sa.cast(t.c.attributes, JSONB).op("->>")(name)), else_=None)
    path = '$."' + name + '"'  # names holding '"' are refused before (services.reads)
    kind = sa.func.json_type(t.c.attributes, path)
    return sa.case(
        (kind == "true", "true"),
        (kind == "false", "false"),
        (
            kind.in_(("text", "integer", "real")),
            sa.cast(sa.func.json_extract(t.c.attributes, path), sa.Text),
        ),
        else_=None,
    )
