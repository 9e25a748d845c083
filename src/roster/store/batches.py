"""The batches table as ledger and queue (STYLE example 4); ``store.batch_reads`` reads it back.

A worker claims the oldest ready batch of a workspace that has no earlier unfinished batch
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's single writer under ``BEGIN IMMEDIATE``),
holds a lease it renews, and commits the batch's effects together with its ``done`` mark.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from roster.domain.batches import UNFINISHED, Claimed, Status
from roster.domain.outcomes import Issue, Ledger
from roster.store.id_lists import among
from roster.store.schema import batch_effects as et
from roster.store.schema import batch_issues as it
from roster.store.schema import batch_payloads as pt
from roster.store.schema import batches as t
from roster.store.schema import workspace_turns as turns_t


def is_unfinished(status: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
    """``status IN ('queued', 'processing')`` with literal values, as the partial indexes say it:
    SQLite uses a partial index only when the query repeats its condition (not with ?s)."""
    return status.in_([sa.literal_column(f"'{s}'") for s in UNFINISHED])


def insert(
    conn: Connection, row: dict[str, Any], payload: bytes, prepared: bytes | None = None
) -> None:
    """A new batch, its request body and the reading of its entries made at the door (kept in
    ``batch_payloads``, apart from the row)."""
    conn.execute(_INSERT, row)  # statements built once: the rows go as their parameters
    body = {"batch_id": row["id"], "payload": payload, "prepared": prepared}
    conn.execute(_INSERT_PAYLOAD, body)


def payload_of(conn: Connection, batch_id: str) -> tuple[bytes, bytes | None]:
    """A batch's request body as accepted, and the reading of it made at the door."""
    query = sa.select(pt.c.payload, pt.c.prepared).where(pt.c.batch_id == batch_id)
    payload, prepared = conn.execute(query).one()
    return bytes(payload), None if prepared is None else bytes(prepared)


def run_mode(conn: Connection, workspace_id: str, run: str) -> tuple[bool, int] | None:
    """Whether a run is a dry run, and the elements its batches hold; ``None`` for a new run."""
    query = sa.select(
        sa.func.max(sa.case((t.c.dry_run, 1), else_=0)), sa.func.sum(t.c.element_count)
    ).where(t.c.workspace_id == workspace_id, t.c.run == run)
    dry, elements = conn.execute(query).one()
    return None if elements is None else (bool(dry), int(elements))


def of_dry_run(conn: Connection, workspace_id: str, run: str) -> list[Claimed]:
    """Every batch of a dry run (held, or decided before), in acceptance order, with bodies."""
    query = (
        sa.select(t.c.seq, t.c.id, t.c.kind, t.c.accepted_at, pt.c.payload, pt.c.prepared)
        .join(pt, pt.c.batch_id == t.c.id)
        .where(t.c.workspace_id == workspace_id, t.c.run == run, t.c.dry_run)
        .order_by(t.c.seq)
    )
    return [
        Claimed(
            r.seq,
            r.id,
            workspace_id,
            r.kind,
            bytes(r.payload),
            r.accepted_at,
            1,
            prepared=None if r.prepared is None else bytes(r.prepared),
        )
        for r in conn.execute(query)
    ]


def find_idempotent(conn: Connection, workspace_id: str, key: str) -> tuple[str, str, bool] | None:
    """``(batch_id, payload_sha256, dry_run)`` of the batch first accepted with this key."""
    row = conn.execute(
        sa.select(t.c.id, t.c.payload_sha256, t.c.dry_run).where(
            t.c.workspace_id == workspace_id, t.c.idempotency_key == key
        )
    ).first()
    return (row.id, row.payload_sha256, bool(row.dry_run)) if row else None


_INSERT = sa.insert(t)
_INSERT_PAYLOAD = sa.insert(pt)
_LAST_ACCEPTED = (
    sa.select(t.c.accepted_at)
    .where(t.c.workspace_id == sa.bindparam("workspace_id"))
    .order_by(t.c.seq.desc())
    .limit(1)
)


def last_accepted_at(conn: Connection, workspace_id: str) -> int | None:
    """The accept time of the workspace's newest batch."""
    found = conn.execute(_LAST_ACCEPTED, {"workspace_id": workspace_id}).scalar()
    return None if found is None else int(found)


def claim_next(conn: Connection, owner: str, now: int, lease_ms: int) -> Claimed | None:
    """Take the lease of the next batch that may run now, or return ``None``."""
    row = conn.execute(_CLAIM, {"now": now}).first()
    if row is None:
        return None
    # Stamp with a clock read after the query saw the previous batch finished, so started_at
    # never precedes the finished_at of the batch before it.
    now = max(now, int(time.time() * 1000))
    conn.execute(
        sa.update(t)
        .where(t.c.seq == row.seq)
        .values(
            status=Status.PROCESSING,
            lease_owner=owner,
            lease_expires_at=now + lease_ms,
            attempts=t.c.attempts + 1,
            started_at=sa.func.coalesce(t.c.started_at, now),
        )
    )
    payload, prepared = payload_of(conn, row.id)
    return Claimed(
        row.seq,
        row.id,
        row.workspace_id,
        row.kind,
        payload,
        row.accepted_at,
        row.attempts + 1,
        retry_alone=row.last_error is not None,
        prepared=prepared,
        taken_over=row.status == Status.PROCESSING,
        elements=row.element_count,
    )


def claim_followers(
    conn: Connection, head: Claimed, owner: str, lease_until: int, *, batches: int, elements: int
) -> list[Claimed]:
    """Also take the batches queued right behind ``head`` in its workspace, of the same kind,
    to apply them together with it (in order). No other worker can claim them meanwhile: they
    have an unfinished batch ahead of them."""
    query = (
        sa.select(t.c.seq, t.c.id, t.c.kind, pt.c.payload, pt.c.prepared, t.c.accepted_at)
        .add_columns(t.c.element_count, t.c.status, t.c.attempts)
        .join(pt, pt.c.batch_id == t.c.id)
        .where(t.c.workspace_id == head.workspace_id, t.c.seq > head.seq, is_unfinished(t.c.status))
        .order_by(t.c.seq)
        .limit(batches - 1)
    )
    taken: list[Claimed] = []
    total = 0
    for row in conn.execute(query):
        total += row.element_count
        if row.kind != head.kind or row.status != Status.QUEUED or total > elements:
            break
        taken.append(
            Claimed(
                row.seq,
                row.id,
                head.workspace_id,
                row.kind,
                bytes(row.payload),
                row.accepted_at,
                row.attempts + 1,
                prepared=None if row.prepared is None else bytes(row.prepared),
                elements=row.element_count,
            )
        )
    if taken:
        conn.execute(
            sa.update(t)
            .where(among(t.c.seq, [c.seq for c in taken], conn.dialect.name))
            .values(
                status=Status.PROCESSING,
                lease_owner=owner,
                lease_expires_at=lease_until,
                attempts=t.c.attempts + 1,
                started_at=sa.func.coalesce(t.c.started_at, int(time.time() * 1000)),
            )
        )
    return taken


def _claim_query(now: int) -> sa.Select[Any]:
    """The claim query with its clock bound to ``now`` (for looking at its plan)."""
    return _CLAIM.params(now=now)


def _ready_heads() -> sa.Select[Any]:
    """The ready batches among the workspaces' heads (each one's oldest unfinished batch), as of
    the parameter ``now``, joined to their workspace's turn.

    Heads come from one grouped pass over the unfinished batches, so a workspace with a long
    backlog behind a batch in hand costs one index range, not one probe per waiting batch.
    """
    unfinished = t.alias("unfinished")
    heads = (
        sa.select(sa.func.min(unfinished.c.seq))
        .where(is_unfinished(unfinished.c.status))
        .group_by(unfinished.c.workspace_id)
    )
    now = sa.bindparam("now", type_=sa.BigInteger)
    ready = sa.or_(
        sa.and_(t.c.status == Status.QUEUED, t.c.next_attempt_at <= now),
        sa.and_(t.c.status == Status.PROCESSING, t.c.lease_expires_at < now),
    )
    return (
        sa.select(t.c.seq)
        .select_from(t.outerjoin(turns_t, turns_t.c.workspace_id == t.c.workspace_id))
        .where(t.c.seq.in_(heads), ready)
    )


def _build_claim() -> sa.Select[Any]:
    """The ready head whose workspace's turn comes first (``domain.fairness``), then the oldest."""
    return (
        _ready_heads()
        .add_columns(t.c.id, t.c.workspace_id, t.c.kind, t.c.accepted_at, t.c.attempts)
        .add_columns(t.c.last_error, t.c.status, t.c.element_count)
        .order_by(_TURN, t.c.seq)
        .limit(1)
        .with_for_update(skip_locked=True, of=t)
    )


def _build_earlier() -> sa.Select[Any]:
    """A ready head of another workspace whose turn comes before this one's (``ws``)."""
    own = (
        sa.select(sa.func.coalesce(sa.func.max(turns_t.c.turn), 0))
        .where(turns_t.c.workspace_id == sa.bindparam("ws"))
        .scalar_subquery()
    )
    return _ready_heads().where(t.c.workspace_id != sa.bindparam("ws"), own > _TURN).limit(1)


def earlier_turn_ready(conn: Connection, workspace_id: str, now: int) -> bool:
    """Whether another workspace whose turn comes before this one's has a batch ready: a
    worker applying this workspace's groups one after another lets it go first."""
    return conn.execute(_EARLIER, {"ws": workspace_id, "now": now}).first() is not None


_TURN = sa.func.coalesce(turns_t.c.turn, 0)
_CLAIM = _build_claim()
_EARLIER = _build_earlier()


def _held(conn: Connection, batch_ids: list[str], owner: str) -> sa.ColumnElement[bool]:
    """These batches, as long as ``owner`` still holds their lease."""
    return sa.and_(
        among(t.c.id, batch_ids, conn.dialect.name),
        t.c.lease_owner == owner,
        t.c.status == Status.PROCESSING,
    )


def renew(conn: Connection, batch_ids: list[str], owner: str, until: int) -> None:
    conn.execute(sa.update(t).where(_held(conn, batch_ids, owner)).values(lease_expires_at=until))


def hold(conn: Connection, batch_ids: list[str], owner: str) -> bool:
    """Lock the batches for applying; ``False`` if this worker no longer holds all their leases."""
    rows = conn.execute(
        sa.select(t.c.seq).where(_held(conn, batch_ids, owner)).with_for_update()
    ).all()
    return len(rows) == len(batch_ids)


_INSERT_ISSUES = sa.insert(it)
_FINISH = (
    sa.update(t)
    .where(t.c.id == sa.bindparam("b_id"))
    .values(
        status=Status.DONE,
        finished_at=sa.bindparam("b_now"),
        applied=sa.bindparam("b_applied"),
        skipped=sa.bindparam("b_skipped"),
        failed=sa.bindparam("b_failed"),
        created=sa.bindparam("b_created"),
        updated=sa.bindparam("b_updated"),
        unchanged=sa.bindparam("b_unchanged"),
        lease_owner=None,
        lease_expires_at=None,
        last_error=None,
    )
)


def finish(conn: Connection, done: Sequence[tuple[str, Ledger]], now: int) -> None:
    """Write the ledgers and mark the batches done (in the transaction that applied them): one
    statement for all their issues and one for all their marks (``executemany``, which
    psycopg sends as one pipeline)."""
    issues = [
        _issue_row(batch_id, n, issue)
        for batch_id, ledger in done
        for n, issue in enumerate(ledger.issues)
    ]
    if issues:
        conn.execute(_INSERT_ISSUES, issues)
    effects = [_effects_row(batch_id, 0, ledger) for batch_id, ledger in done if ledger.effects]
    if effects:
        conn.execute(_INSERT_EFFECTS, effects)
    marks = []
    for batch_id, ledger in done:
        created, updated, unchanged = ledger.effect_counts()
        marks.append(
            {
                "b_id": batch_id,
                "b_now": now,
                "b_applied": ledger.applied,
                "b_skipped": ledger.skipped,
                "b_failed": ledger.failed,
                "b_created": created,
                "b_updated": updated,
                "b_unchanged": unchanged,
            }
        )
    if marks:
        conn.execute(_FINISH, marks)


def forget_ledgers(conn: Connection, batch_ids: list[str]) -> None:
    """Drop the issues and effects of batches about to be decided again (a dry run's)."""
    for table in (it, et):
        conn.execute(sa.delete(table).where(among(table.c.batch_id, batch_ids, conn.dialect.name)))


_INSERT_EFFECTS = sa.insert(et)


def _effects_row(batch_id: str, part: int, ledger: Ledger) -> dict[str, Any]:
    return {
        "batch_id": batch_id,
        "part": part,
        "first_index": ledger.first,
        "effects": ledger.effects.decode("ascii"),
    }


def _issue_row(batch_id: str, ordinal: int, issue: Issue) -> dict[str, Any]:
    return {
        "batch_id": batch_id,
        "ordinal": ordinal,
        "severity": issue.severity,
        "outcome": issue.outcome,
        "element_index": issue.index,
        "key": issue.key,
        "field": issue.field,
        "code": issue.code,
        "message": issue.message,
    }


class Progress(NamedTuple):
    """How far a chunked batch got: chunks applied, and the issues recorded so far."""

    done_chunks: int
    issues: int


def progress_of(conn: Connection, batch_id: str) -> Progress:
    done = conn.execute(sa.select(t.c.done_chunks).where(t.c.id == batch_id)).scalar_one()
    query = sa.select(sa.func.count()).select_from(it).where(it.c.batch_id == batch_id)
    return Progress(int(done), int(conn.execute(query).scalar_one()))


def finish_chunk(
    conn: Connection,
    batch_id: str,
    progress: Progress,
    ledger: Ledger,
    now: int,
    *,
    last: bool,
) -> Progress:
    """Record one applied chunk of a chunked batch (in the transaction that applied it): its
    issues after those recorded before, its counts added, and the chunk counted done; the last
    one marks the batch done. Returns the progress after it."""
    issues = [
        _issue_row(batch_id, progress.issues + n, issue) for n, issue in enumerate(ledger.issues)
    ]
    if issues:
        conn.execute(_INSERT_ISSUES, issues)
    if ledger.effects:
        conn.execute(_INSERT_EFFECTS, [_effects_row(batch_id, progress.done_chunks, ledger)])
    created, updated, unchanged = ledger.effect_counts()
    values: dict[str, Any] = {
        "done_chunks": progress.done_chunks + 1,
        "applied": t.c.applied + ledger.applied,
        "skipped": t.c.skipped + ledger.skipped,
        "failed": t.c.failed + ledger.failed,
        "created": t.c.created + created,
        "updated": t.c.updated + updated,
        "unchanged": t.c.unchanged + unchanged,
    }
    if last:
        values.update(
            status=Status.DONE,
            finished_at=now,
            lease_owner=None,
            lease_expires_at=None,
            last_error=None,
        )
    else:  # progress is not failure: the attempts that never finish count again from here
        values["attempts"] = 0
    conn.execute(sa.update(t).where(t.c.id == batch_id).values(**values))
    return Progress(progress.done_chunks + 1, progress.issues + len(issues))


def mark_retry_alone(conn: Connection, batch_id: str, error: str) -> None:
    """The batch failed while applied together with later ones: next time, apply it alone."""
    conn.execute(sa.update(t).where(t.c.id == batch_id).values(last_error=error))


def release(conn: Connection, batch_ids: list[str], owner: str) -> None:
    """Give batches back untouched, queued as they were: their attempt does not count."""
    if not batch_ids:
        return
    conn.execute(
        sa.update(t)
        .where(_held(conn, batch_ids, owner))
        .values(
            status=Status.QUEUED, lease_owner=None, lease_expires_at=None, attempts=t.c.attempts - 1
        )
    )


def retry_failed(conn: Connection, workspace_id: str, batch_id: str, now: int) -> str | None:
    """Queue a ``failed`` batch of the workspace again, its attempts counted from 0 and its
    progress kept (a chunked one resumes at its first chunk not applied). Returns the status
    the batch had (``None``: no such batch of the workspace); only a failed one changes."""
    where = sa.and_(t.c.id == batch_id, t.c.workspace_id == workspace_id)
    status = conn.execute(sa.select(t.c.status).where(where)).scalar()
    if status != Status.FAILED:
        return None if status is None else str(status)
    conn.execute(
        sa.update(t)
        .where(where, t.c.status == Status.FAILED)
        .values(
            status=Status.QUEUED,
            attempts=0,
            next_attempt_at=now,
            finished_at=None,
            lease_owner=None,
            lease_expires_at=None,
        )
    )
    return str(status)


def give_up_or_retry(
    conn: Connection, batch_id: str, owner: str | None, error: str, now: int, retry_at: int | None
) -> None:
    """After a failed attempt: queue it again at ``retry_at``, or mark it ``failed`` for good."""
    query = sa.update(t).where(t.c.id == batch_id, t.c.status == Status.PROCESSING)
    if owner is not None:
        query = query.where(t.c.lease_owner == owner)
    values: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None, "last_error": error}
    if retry_at is None:
        values.update(status=Status.FAILED, finished_at=now)
    else:
        values.update(status=Status.QUEUED, next_attempt_at=retry_at)
    conn.execute(query.values(**values))
