"""The reads a profile's timeline is built from (``services.timeline``)."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from roster.store.id_lists import among
from roster.store.schema import batch_issues, batches, events


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
