"""Reads for the profile API: finding one customer, and what its timeline is built from
(``services.reads.timeline``)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from roster.store.id_lists import among
from roster.store.schema import batch_issues, batches, events
from roster.store.schema import customer_identifiers as it
from roster.store.schema import customers as t

# --- one customer ---------------------------------------------------------------------------


def customer_by_id(conn: Connection, workspace_id: str, customer_id: str) -> dict[str, Any] | None:
    query = sa.select(t).where(t.c.workspace_id == workspace_id, t.c.customer_id == customer_id)
    row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def customer_by_uid(conn: Connection, workspace_id: str, uid: int) -> dict[str, Any] | None:
    row = conn.execute(sa.select(t).where(t.c.workspace_id == workspace_id, t.c.uid == uid)).first()
    return dict(row._mapping) if row else None


def customer_by_identifier(
    conn: Connection, workspace_id: str, name: str, value: str
) -> dict[str, Any] | None:
    """The oldest customer holding this identifier value."""
    uid = conn.execute(
        sa.select(sa.func.min(it.c.uid)).where(
            it.c.workspace_id == workspace_id, it.c.name == name, it.c.value == value
        )
    ).scalar()
    return customer_by_uid(conn, workspace_id, int(uid)) if uid is not None else None


# --- its timeline ---------------------------------------------------------------------------


def event_batches(conn: Connection, uid: int) -> list[tuple[str, int, int, int]]:
    """Per batch, the events this customer holds: ``(batch_id, count, how many of them were
    first recorded for another customer and moved here by a merge, first received)``."""
    moved = sa.func.sum(sa.case((events.c.origin_uid != events.c.uid, 1), else_=0))
    query = (
        sa.select(events.c.batch_id, sa.func.count(), moved, sa.func.min(events.c.received_at))
        .where(events.c.uid == uid)
        .group_by(events.c.batch_id)
    )
    return [(b, int(n), int(m or 0), int(at)) for b, n, m, at in conn.execute(query)]


def stale_skips(
    conn: Connection, workspace_id: str, keys: Collection[str]
) -> list[tuple[str, int, str | None, str]]:
    """``stale_attribute_skipped`` warnings about these keys (customer ids, identifier
    values): ``(batch_id, the batch's accept time, field, message)``."""
    if not keys:
        return []
    query = (
        sa.select(
            batch_issues.c.batch_id,
            batches.c.accepted_at,
            batch_issues.c.field,
            batch_issues.c.message,
        )
        .join(batches, batches.c.id == batch_issues.c.batch_id)
        .where(
            batch_issues.c.code == "stale_attribute_skipped",
            among(batch_issues.c.key, keys, conn.dialect.name),
            batches.c.workspace_id == workspace_id,
        )
        .order_by(batches.c.seq, batch_issues.c.ordinal)
    )
    return [(b, int(at), f, m) for b, at, f, m in conn.execute(query)]
