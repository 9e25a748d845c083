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


def queue(db: Database, ws: Workspace) -> dict[str, Any]:
    """Queued and processing batches, and how long the oldest queued one has waited."""
    with db.read() as conn:
        found = dashboard_reads.queue_of(conn, ws.id)
    oldest = found.pop("oldest_queued_at")
    now = int(time.time() * 1000)
    found["oldest_waiting_s"] = None if oldest is None else max(0, now - oldest) / 1000
    return found


def troubled(db: Database, ws: Workspace, *, limit: int = RECENT) -> list[dict[str, Any]]:
    """The newest batches that failed or had failed elements."""
    found: list[dict[str, Any]] = batches.batch_page(db, ws, has_errors=True, limit=limit)[
        "batches"
    ]
    return found
