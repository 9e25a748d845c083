"""The batches table added up for ``GET /metrics``: what every process shares, read at scrape
time, so any API process reports the whole store (the queue, and what every worker applied).

Batches are never deleted, and their counts only grow, so the totals are counters. A dry
run's batches are not counted: nothing of them is applied.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from roster.domain.batches import Status
from roster.store.batches import is_unfinished
from roster.store.schema import batches as t


@dataclass(frozen=True, slots=True)
class KindTotals:
    """One kind's batches in one status, added up."""

    kind: str
    status: str
    batches: int
    applied: int
    skipped: int
    failed: int
    #: Attempts beyond the first (after an error, or a lease taken over), of finished batches.
    retries: int


@dataclass(frozen=True, slots=True)
class Queue:
    """The unfinished batches: how many by status, their elements, the oldest one's accept
    time (milliseconds), and the database's clock."""

    queued: int
    processing: int
    elements: int
    oldest_accepted_at: int | None


def _sum(column: sa.ColumnElement[int]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(column), 0)


_FINISHED = t.c.status.in_([Status.DONE, Status.FAILED])
_TOTALS = (
    sa.select(t.c.kind, t.c.status, sa.func.count())
    .add_columns(_sum(t.c.applied), _sum(t.c.skipped), _sum(t.c.failed))
    .add_columns(_sum(sa.case((_FINISHED, t.c.attempts - 1), else_=0)))
    .where(sa.not_(t.c.dry_run))
    .group_by(t.c.kind, t.c.status)
)
_QUEUE = (
    sa.select(t.c.status, sa.func.count(), _sum(t.c.element_count), sa.func.min(t.c.accepted_at))
    .where(is_unfinished(t.c.status))
    .group_by(t.c.status)
)


def totals(conn: Connection) -> list[KindTotals]:
    """Every kind's batches by status, with their elements by outcome and their retries."""
    return [
        KindTotals(*(row[0], row[1]), *(int(v) for v in row[2:])) for row in conn.execute(_TOTALS)
    ]


def queue(conn: Connection) -> Queue:
    """The queue now."""
    counts = {Status.QUEUED.value: 0, Status.PROCESSING.value: 0}
    elements, oldest = 0, None
    for status, n, in_it, first in conn.execute(_QUEUE):
        counts[status] = int(n)
        elements += int(in_it)
        oldest = int(first) if oldest is None else min(oldest, int(first))
    return Queue(counts[Status.QUEUED], counts[Status.PROCESSING], elements, oldest)
