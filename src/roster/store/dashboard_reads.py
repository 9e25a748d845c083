"""What the dashboard reads that the read API has no call for: a workspace's queue at a glance
and its recent apply rate."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from roster.domain.batches import Status
from roster.store.batches import is_unfinished
from roster.store.schema import batches as t


def queue_of(conn: Connection, workspace_id: str) -> dict[str, Any]:
    """The workspace's queued and processing batches, and when the oldest queued one was
    accepted (seeks ``ix_batches_workspace_id_status_seq``)."""
    query = (
        sa.select(t.c.status, sa.func.count(), sa.func.min(t.c.accepted_at))
        .where(
            t.c.workspace_id == workspace_id,
            is_unfinished(t.c.status),
        )
        .group_by(t.c.status)
    )
    found: dict[str, Any] = {"queued": 0, "processing": 0, "oldest_queued_at": None}
    for status, count, oldest in conn.execute(query):
        found[status] = int(count)
        if status == Status.QUEUED:
            found["oldest_queued_at"] = oldest
    return found


def recently_finished(conn: Connection, workspace_id: str, *, newest: int) -> list[tuple[int, int]]:
    """``(finished_at, elements)`` of the workspace's ``newest`` finished batches, newest
    first (seeks ``ix_batches_workspace_id_status_seq``, a bounded read whatever the history)."""
    query = (
        sa.select(t.c.finished_at, t.c.applied + t.c.skipped + t.c.failed)
        .where(t.c.workspace_id == workspace_id, t.c.status == str(Status.DONE))
        .order_by(t.c.seq.desc())
        .limit(newest)
    )
    return [(int(at), int(n)) for at, n in conn.execute(query) if at is not None]
