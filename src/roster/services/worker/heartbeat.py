"""The heartbeat: renews the leases of the batches in hand while the worker applies them."""

from __future__ import annotations

import threading

import structlog

from roster.services.worker.clock import now_ms
from roster.settings import Settings
from roster.store import batches
from roster.store.database import Database

log = structlog.get_logger("roster.worker")


class Heartbeat:
    """Every ``heartbeat_seconds``, extend ``owner``'s lease of ``batch_ids`` by
    ``lease_seconds``, in a thread of its own, until ``stop``."""

    def __init__(self, db: Database, owner: str, batch_ids: list[str], settings: Settings) -> None:
        self.db = db
        self.owner = owner
        self.batch_ids = batch_ids
        self.settings = settings
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="roster-heartbeat")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join()

    def _run(self) -> None:
        settings = self.settings
        while not self.done.wait(settings.heartbeat_seconds):
            until = now_ms() + int(settings.lease_seconds * 1000)
            try:
                with self.db.write() as conn:
                    batches.renew(conn, self.batch_ids, self.owner, until)
            except Exception:
                log.exception("worker.heartbeat_failed", batch_ids=self.batch_ids)
