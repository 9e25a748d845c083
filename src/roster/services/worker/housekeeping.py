"""What a worker does beside applying batches: when idle, forget old rate-limit windows and
purge old tombstones; all along (PostgreSQL, a thread of its own), keep the planner's
statistics fresh while imports grow tables."""

from __future__ import annotations

import threading

import sqlalchemy.exc
import structlog

from roster.services.admin.purge import purge_tombstones
from roster.services.worker.clock import now_ms
from roster.store import planner_stats, ratelimit
from roster.store.database import Database

log = structlog.get_logger("roster.worker")
HOUSEKEEPING_MS = 60_000
STATS_CHECK_MS = 5_000
RATE_WINDOW_KEPT_MS = 3_600_000
PURGE_EVERY_MS = 3_600_000


class Housekeeping:
    """One worker's housekeeping, with the times it last ran."""

    def __init__(self, db: Database, owner: str) -> None:
        self.db = db
        self.owner = owner
        self._last_housekeeping = 0
        self._last_purge = 0

    def run_if_due(self) -> None:
        """When idle, at most once a minute: forget rate-limit windows older than an hour;
        about once an hour, purge old tombstones (``services.admin.purge``)."""
        now = now_ms()
        if now - self._last_housekeeping < HOUSEKEEPING_MS:
            return
        self._last_housekeeping = now
        try:
            with self.db.write() as conn:
                ratelimit.forget_before(conn, now - RATE_WINDOW_KEPT_MS)
            if now - self._last_purge >= PURGE_EVERY_MS:
                self._last_purge = now
                purge_tombstones(self.db, now)
        except Exception:
            log.exception("worker.housekeeping_failed", worker=self.owner)

    def refresh_planner_stats(self) -> list[str]:
        """Re-analyse the tables an import outgrew (PostgreSQL); return those analysed. The
        stats keeper thread (``keep_planner_stats``) calls it every few seconds, beside the
        apply path."""
        analysed: list[str] = []
        if self.db.is_sqlite:
            return analysed
        try:
            with self.db.read() as conn:
                stale = planner_stats.stale_tables(conn)
            for table in stale:
                with self.db.write() as conn:
                    if planner_stats.analyze_if_stale(conn, table):
                        analysed.append(table)
                        log.info("worker.analyzed", table=table, worker=self.owner)
        except sqlalchemy.exc.OperationalError:  # another session holds the table's lock
            log.info("worker.analyze_skipped", worker=self.owner)
        return analysed

    def keep_planner_stats(self, stop: threading.Event) -> None:
        """The stats keeper: every few seconds until ``stop``, ``refresh_planner_stats``."""
        while not stop.wait(STATS_CHECK_MS / 1000):
            try:
                self.refresh_planner_stats()
            except Exception:  # the database went away: try again next time
                log.exception("worker.analyze_failed", worker=self.owner)

    def start_stats_keeper(self, stop: threading.Event) -> threading.Thread | None:
        """On PostgreSQL, the stats keeper thread, started; ``None`` on SQLite."""
        if self.db.is_sqlite:
            return None
        keeper = threading.Thread(
            target=self.keep_planner_stats, args=(stop,), daemon=True, name="roster-stats"
        )
        keeper.start()
        return keeper
