"""The overview: for each workspace, its queue, recent runs and batches, and the batches that
failed or had failed elements."""

from __future__ import annotations

import time
from typing import Any

from roster.domain.workspaces import Workspace
from roster.services.admin import workspace_admin
from roster.services.reads import batches, runs
from roster.store import dashboard_reads
from roster.store.database import Database

RECENT = 5


def overview(db: Database, *, limit: int = 50) -> list[dict[str, Any]]:
    """Every workspace's (at most ``limit``) summary, by name."""
    found = sorted(workspace_admin.list_all(db), key=lambda w: (w.name, w.id))
    return [workspace_summary(db, ws) for ws in found[:limit]]


def workspace_summary(db: Database, ws: Workspace) -> dict[str, Any]:
    return {
        "workspace": workspace_admin.describe(ws),
        "queue": queue(db, ws),
        "runs": runs.run_list(db, ws, limit=RECENT),
        "batches": batches.batch_page(db, ws, limit=RECENT)["batches"],
        "troubled": troubled(db, ws),
    }


#: The apply rate is what was applied in this window, read from at most ``RATE_BATCHES``
#: batches (the newest finished): a faster workspace shows at least its rate (``rate_at_least``).
RATE_WINDOW_S, RATE_BATCHES = 300, 500


def queue(db: Database, ws: Workspace) -> dict[str, Any]:
    """Queued and processing batches, how long the oldest queued one has waited, and the
    elements applied per second over the last five minutes."""
    with db.read() as conn:
        found = dashboard_reads.queue_of(conn, ws.id)
        finished = dashboard_reads.recently_finished(conn, ws.id, newest=RATE_BATCHES)
    oldest = found.pop("oldest_queued_at")
    now = int(time.time() * 1000)
    found["oldest_waiting_s"] = None if oldest is None else max(0, now - oldest) / 1000
    since = now - RATE_WINDOW_S * 1000
    recent = [n for at, n in finished if at >= since]
    found["apply_rate"] = round(sum(recent) / RATE_WINDOW_S, 1)
    found["rate_at_least"] = len(recent) == RATE_BATCHES
    return found


def troubled(db: Database, ws: Workspace, *, limit: int = RECENT) -> list[dict[str, Any]]:
    """The newest batches that failed or had failed elements."""
    found: list[dict[str, Any]] = batches.batch_page(db, ws, has_errors=True, limit=limit)[
        "batches"
    ]
    return found
