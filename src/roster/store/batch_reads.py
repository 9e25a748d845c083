"""The batches table as the ledger read back: a batch's summary, the recent ones, their issues,
the runs they belong to, and the queue's backlog (the queue itself is ``store.batches``)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from roster.domain.batches import Status
from roster.domain.outcomes import Issue
from roster.store.batches import is_unfinished
from roster.store.schema import batch_effects as et
from roster.store.schema import batch_issues as it
from roster.store.schema import batches as t


def get(conn: Connection, workspace_id: str, batch_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(*_summary_columns()).where(t.c.id == batch_id, t.c.workspace_id == workspace_id)
    ).mappings()
    found = row.first()
    return dict(found) if found else None


def list_recent(
    conn: Connection,
    workspace_id: str,
    *,
    status: str | None,
    kind: str | None,
    limit: int,
    run: str | None = None,
    has_errors: bool | None = None,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """The newest batches first (each with its ``seq``), those accepted before ``seq`` if
    ``before`` is given; ``has_errors``: the batch failed, or some of its elements did."""
    query = sa.select(*_summary_columns()).where(t.c.workspace_id == workspace_id)
    if status:
        query = query.where(t.c.status == status)
    if kind:
        query = query.where(t.c.kind == kind)
    if run:
        query = query.where(t.c.run == run)
    if has_errors is not None:
        errors = sa.or_(t.c.status == Status.FAILED, t.c.failed > 0)
        query = query.where(errors if has_errors else sa.not_(errors))
    if before is not None:
        query = query.where(t.c.seq < before)
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
    return [
        Issue(r.severity, r.element_index, r.key, r.field, r.code, r.message, r.outcome)
        for r in rows
    ]


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
        t.c.created,
        t.c.updated,
        t.c.unchanged,
        t.c.forwarded_for,
        t.c.run,
    ]


# --- runs ----------------------------------------------------------------------------------


def _count_where(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _run_columns() -> list[sa.ColumnElement[Any]]:
    """What a run adds up to, over its batches."""
    return [
        t.c.run,
        sa.func.count().label("batches"),
        _count_where(t.c.status == Status.QUEUED).label("queued"),
        _count_where(t.c.status == Status.PROCESSING).label("processing"),
        _count_where(t.c.status == Status.HELD).label("held"),
        sa.func.max(sa.case((t.c.dry_run, 1), else_=0)).label("dry_run"),
        _count_where(t.c.status == Status.DONE).label("done"),
        _count_where(t.c.status == Status.FAILED).label("failed_batches"),
        sa.func.sum(t.c.element_count).label("elements"),
        sa.func.sum(t.c.applied).label("applied"),
        sa.func.sum(t.c.skipped).label("skipped"),
        sa.func.sum(t.c.failed).label("failed"),
        sa.func.sum(t.c.created).label("created"),
        sa.func.sum(t.c.updated).label("updated"),
        sa.func.sum(t.c.unchanged).label("unchanged"),
        sa.func.min(t.c.accepted_at).label("first_accepted_at"),
        sa.func.max(t.c.accepted_at).label("last_accepted_at"),
        sa.func.max(t.c.finished_at).label("last_finished_at"),
        sa.func.max(t.c.seq).label("last_seq"),
    ]


def runs_of(
    conn: Connection, workspace_id: str, *, limit: int, before: int | None = None
) -> list[dict[str, Any]]:
    """The workspace's runs, the one with the newest batch first, each added up; with
    ``before``, those whose newest batch came before that ``seq`` (the next page)."""
    query = (
        sa.select(*_run_columns())
        .where(t.c.workspace_id == workspace_id, t.c.run.is_not(None))
        .group_by(t.c.run)
        .order_by(sa.func.max(t.c.seq).desc())
        .limit(limit)
    )
    if before is not None:
        query = query.having(sa.func.max(t.c.seq) < before)
    return [dict(r) for r in conn.execute(query).mappings()]


def run_summary(conn: Connection, workspace_id: str, name: str) -> dict[str, Any] | None:
    """One run added up, with its kinds; ``None`` if no batch of the workspace names it."""
    query = sa.select(*_run_columns()).where(t.c.workspace_id == workspace_id, t.c.run == name)
    found = dict(conn.execute(query.group_by(t.c.run)).mappings().first() or {})
    if not found:
        return None
    kinds = sa.select(t.c.kind, sa.func.count()).where(
        t.c.workspace_id == workspace_id, t.c.run == name
    )
    found["kinds"] = {k: int(n) for k, n in conn.execute(kinds.group_by(t.c.kind))}
    return found


def run_issue_codes(conn: Connection, workspace_id: str, name: str) -> list[tuple[str, str, int]]:
    """``(severity, code, count)`` of every issue of a run's batches, most frequent first."""
    run = it.join(t, t.c.id == it.c.batch_id)
    return _issue_codes(conn, run, t.c.workspace_id == workspace_id, t.c.run == name)


def batch_issue_codes(conn: Connection, batch_id: str) -> list[tuple[str, str, int]]:
    """``(severity, code, count)`` of a batch's issues, most frequent first."""
    return _issue_codes(conn, it, it.c.batch_id == batch_id)


def _issue_codes(
    conn: Connection, issues: sa.FromClause, *where: sa.ColumnElement[bool]
) -> list[tuple[str, str, int]]:
    n = sa.func.count().label("n")
    query = (
        sa.select(it.c.severity, it.c.code, n)
        .select_from(issues)
        .where(*where)
        .group_by(it.c.severity, it.c.code)
        .order_by(n.desc(), it.c.code)
    )
    return [(severity, code, int(count)) for severity, code, count in conn.execute(query)]


def run_issues(
    conn: Connection, workspace_id: str, name: str, *, after: tuple[int, int] | None, limit: int
) -> list[dict[str, Any]]:
    """A page of a run's issues in acceptance order, then element order: those after the
    ``(batch seq, ordinal)`` cursor ``after``, at most ``limit``."""
    query = (
        sa.select(
            t.c.seq,
            t.c.id.label("batch_id"),
            t.c.kind,
            it.c.ordinal,
            it.c.severity,
            it.c.element_index,
            it.c.key,
            it.c.field,
            it.c.code,
            it.c.message,
            it.c.outcome,
        )
        .join(t, t.c.id == it.c.batch_id)
        .where(t.c.workspace_id == workspace_id, t.c.run == name)
    )
    if after is not None:
        seq, ordinal = after
        query = query.where(sa.or_(t.c.seq > seq, sa.and_(t.c.seq == seq, it.c.ordinal > ordinal)))
    rows = conn.execute(query.order_by(t.c.seq, it.c.ordinal).limit(limit)).mappings()
    return [dict(r) for r in rows]


def run_effects(
    conn: Connection, workspace_id: str, name: str, *, after: int | None, limit: int
) -> list[tuple[int, str, str]]:
    """``(seq, batch id, effects)`` of a run's batches after batch ``seq`` ``after`` (at most
    ``limit`` batches, in acceptance order): each batch's letters from element 0, its parts
    (chunks) put together; ``-`` for an element with none."""
    batch_rows = (
        sa.select(t.c.seq, t.c.id)
        .where(t.c.workspace_id == workspace_id, t.c.run == name)
        .where(t.c.seq > (after if after is not None else -1))
        .order_by(t.c.seq)
        .limit(limit)
        .subquery()
    )
    query = (
        sa.select(batch_rows.c.seq, batch_rows.c.id, et.c.first_index, et.c.effects)
        .select_from(batch_rows.outerjoin(et, et.c.batch_id == batch_rows.c.id))
        .order_by(batch_rows.c.seq, et.c.part)
    )
    found: dict[int, tuple[str, list[str]]] = {}
    for seq, batch_id, first, effects in conn.execute(query):
        _, parts = found.setdefault(seq, (batch_id, []))
        if effects is not None:
            held = sum(map(len, parts))
            parts.append("-" * max(0, first - held) + effects)
    return [(seq, batch_id, "".join(parts)) for seq, (batch_id, parts) in found.items()]
