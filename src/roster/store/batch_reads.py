"""The batches table as the ledger read back: a batch's summary, the recent ones, their issues,
and the queue's backlog (the queue itself is ``store.batches``)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from roster.domain.outcomes import Issue
from roster.store.batches import is_unfinished
from roster.store.schema import batch_issues as it
from roster.store.schema import batches as t


def get(conn: Connection, workspace_id: str, batch_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(*_summary_columns()).where(t.c.id == batch_id, t.c.workspace_id == workspace_id)
    ).mappings()
    found = row.first()
    return dict(found) if found else None


def list_recent(
    conn: Connection, workspace_id: str, *, status: str | None, kind: str | None, limit: int
) -> list[dict[str, Any]]:
    query = sa.select(*_summary_columns()).where(t.c.workspace_id == workspace_id)
    if status:
        query = query.where(t.c.status == status)
    if kind:
        query = query.where(t.c.kind == kind)
    rows = conn.execute(query.order_by(t.c.seq.desc()).limit(limit)).mappings()
    return [dict(r) for r in rows]


def ahead_of(conn: Connection, workspace_id: str, seq: int) -> int:
    """How many unfinished batches of the workspace were accepted before this one."""
    query = sa.select(sa.func.count()).where(
        t.c.workspace_id == workspace_id, is_unfinished(t.c.status), t.c.seq < seq
    )
    return int(conn.execute(query).scalar_one())


def issues_of(
    conn: Connection, batch_id: str, *, offset: int = 0, limit: int | None = None
) -> list[Issue]:
    """A batch's issues in the order they were recorded (one page of them, if asked)."""
    query = sa.select(it).where(it.c.batch_id == batch_id).order_by(it.c.ordinal)
    if offset:
        query = query.where(it.c.ordinal >= offset)  # ordinals run 0, 1, 2, ... per batch
    if limit is not None:
        query = query.limit(limit)
    rows = conn.execute(query)
    return [Issue(r.severity, r.element_index, r.key, r.field, r.code, r.message) for r in rows]


def issue_counts(conn: Connection, batch_id: str) -> dict[str, int]:
    """How many issues of each severity a batch holds."""
    query = (
        sa.select(it.c.severity, sa.func.count())
        .where(it.c.batch_id == batch_id)
        .group_by(it.c.severity)
    )
    return {severity: int(n) for severity, n in conn.execute(query)}


def backlog(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        sa.select(t.c.status, sa.func.count()).where(is_unfinished(t.c.status)).group_by(t.c.status)
    )
    return {r[0]: int(r[1]) for r in rows}


def _summary_columns() -> list[sa.ColumnElement[Any]]:
    return [
        t.c.seq,
        t.c.id,
        t.c.workspace_id,
        t.c.kind,
        t.c.status,
        t.c.element_count,
        t.c.accepted_at,
        t.c.started_at,
        t.c.finished_at,
        t.c.attempts,
        t.c.last_error,
        t.c.applied,
        t.c.skipped,
        t.c.failed,
        t.c.forwarded_for,
    ]
