"""A failed batch retried by its owner (``POST /v1/batches/{batch_id}/retry``, ``roster
batches retry``): queued again, its attempts counted from 0, its progress kept.

A batch fails after ``ROSTER_MAX_ATTEMPTS`` attempts that raised or never finished; its body
(and a CSV import's chunks) stay stored, so once the cause is fixed (a database that was full, a
bug fixed by an upgrade) its owner queues it again rather than sending it anew. It keeps its
place in the queue (its ``seq``): it is applied before any later batch of its workspace still
queued, but after those already applied while it was failed, so where it and they touch the
same customers, the result is that of applying it last. ``last_error`` keeps the error it
failed with until it is applied.
"""

from __future__ import annotations

import time
from typing import Any

from roster.domain.element_rules import excerpt
from roster.domain.errors import Conflict, NotFound
from roster.domain.workspaces import Workspace
from roster.services.reads import batches as batch_reads
from roster.store import batches
from roster.store.database import Database


def retry(db: Database, workspace: Workspace, batch_id: str) -> dict[str, Any]:
    """Queue the failed batch again; its view after. ``NotFound``, or ``Conflict`` for a batch
    that is not failed."""
    with db.write() as conn:
        before = batches.retry_failed(conn, workspace.id, batch_id, int(time.time() * 1000))
    if before is None:
        raise NotFound(f"batch {excerpt(batch_id)} not found", field="batch_id")
    if before != "failed":
        raise Conflict(f"only a failed batch is retried; this one is {before}", field="batch_id")
    return batch_reads.batch_view(db, workspace, batch_id)
