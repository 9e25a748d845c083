"""Purging tombstones: merged customers that received no new data for 30 days are deleted,
with the events they still hold (those older than the merge's window). New data for a
tombstone's uid (a change to its row, an event recorded for it) keeps it another 30 days.
The journal keeps the record of the merge. Run by ``roster purge`` and, about once an hour,
by every idle worker (in pages, each in its own short transaction).
"""

from __future__ import annotations

import structlog

from roster.domain.merges import TOMBSTONE_KEPT_MS
from roster.store import merges as merge_store
from roster.store.database import Database

log = structlog.get_logger("roster.purge")
PAGE = 500
#: Pages one pass deletes at most (a later pass goes on).
MAX_PAGES = 200


def purge_tombstones(db: Database, now: int, *, kept_ms: int = TOMBSTONE_KEPT_MS) -> int:
    """Delete the tombstones with no new data since ``now - kept_ms``; how many went."""
    cutoff = now - kept_ms
    purged = 0
    for _ in range(MAX_PAGES):
        with db.write() as conn:
            uids = merge_store.purge_tombstones(conn, cutoff, limit=PAGE)
        purged += len(uids)
        if len(uids) < PAGE:
            break
    if purged:
        log.info("tombstones.purged", count=purged, cutoff=cutoff)
    return purged
