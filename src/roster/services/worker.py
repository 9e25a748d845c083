"""The worker loop: claim a batch, apply it with its ledger in one transaction, repeat.

A heartbeat renews the lease while a batch is in hand. A batch that raises is retried with
exponential backoff, then marked ``failed`` with the error kept; a batch whose worker died is
taken over when its lease expires, and counts that as an attempt.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable

import structlog
from sqlalchemy.engine import Connection

from roster.domain.outcomes import Ledger
from roster.domain.workspaces import Workspace
from roster.services.faults import crash_if
from roster.services.transition import apply_transition
from roster.settings import Settings
from roster.store import batches, ratelimit, workspaces
from roster.store.batches import Claimed
from roster.store.database import Database

log = structlog.get_logger("roster.worker")
HOUSEKEEPING_MS = 60_000
RATE_WINDOW_KEPT_MS = 3_600_000

Applier = Callable[[Connection, Workspace, Claimed, Settings], Ledger]


def _transition(conn: Connection, ws: Workspace, batch: Claimed, settings: Settings) -> Ledger:
    return apply_transition(conn, ws, batch, max_string=settings.max_string_length)


APPLIERS: dict[str, Applier] = {"transition": _transition}


def now_ms() -> int:
    return int(time.time() * 1000)


class Worker:
    """One worker loop. Several may run in one process (threads) or in many processes."""

    def __init__(self, db: Database, settings: Settings, name: str | None = None) -> None:
        self.db = db
        self.settings = settings
        self.owner = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._last_housekeeping = 0

    def run(self, stop: threading.Event) -> None:
        """Apply batches until ``stop`` is set; the batch in hand is finished first."""
        log.info("worker.started", worker=self.owner)
        while not stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # the database went away: wait and try again
                log.exception("worker.error", worker=self.owner)
                worked = False
                stop.wait(self.settings.poll_seconds * 5)
            if not worked:
                self._housekeeping()
                stop.wait(self.settings.poll_seconds)
        log.info("worker.stopped", worker=self.owner)

    def _housekeeping(self) -> None:
        """When idle, at most once a minute: forget rate-limit windows older than an hour."""
        now = now_ms()
        if now - self._last_housekeeping < HOUSEKEEPING_MS:
            return
        self._last_housekeeping = now
        try:
            with self.db.write() as conn:
                ratelimit.forget_before(conn, now - RATE_WINDOW_KEPT_MS)
        except Exception:
            log.exception("worker.housekeeping_failed", worker=self.owner)

    def run_once(self) -> bool:
        """Claim and apply one batch; ``False`` when there was nothing to do."""
        lease_ms = int(self.settings.lease_seconds * 1000)
        with self.db.write() as conn:
            batch = batches.claim_next(conn, self.owner, now_ms(), lease_ms)
        if batch is None:
            return False
        crash_if(self.settings.fault_point, "worker_after_claim")
        if batch.attempts > self.settings.max_attempts:
            msg = f"gave up after {batch.attempts - 1} attempts; the last one never finished"
            self._give_up(batch, msg)
            return True
        beat = _Heartbeat(self, batch)
        beat.start()
        try:
            self._apply(batch)
        except Exception as exc:
            self._after_error(batch, exc)
        finally:
            beat.stop()
        return True

    def _apply(self, batch: Claimed) -> None:
        started = time.perf_counter()
        with self.db.write() as conn:
            if not batches.hold(conn, batch.id, self.owner):
                log.warning("batch.lease_lost", batch_id=batch.id, worker=self.owner)
                return
            workspace = workspaces.get(conn, batch.workspace_id)
            assert workspace is not None
            ledger = APPLIERS[batch.kind](conn, workspace, batch, self.settings)
            crash_if(self.settings.fault_point, "worker_mid_apply")
            batches.finish(conn, batch.id, ledger, now_ms())
        crash_if(self.settings.fault_point, "worker_after_commit")
        log.info(
            "batch.applied",
            batch_id=batch.id,
            workspace_id=batch.workspace_id,
            kind=batch.kind,
            applied=ledger.applied,
            skipped=ledger.skipped,
            failed=ledger.failed,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )

    def _after_error(self, batch: Claimed, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        log.error(
            "batch.error",
            batch_id=batch.id,
            attempt=batch.attempts,
            error=error,
            trace=traceback.format_exc(limit=5),
        )
        if batch.attempts >= self.settings.max_attempts:
            self._give_up(batch, error)
            return
        delay = min(
            self.settings.retry_max_seconds,
            self.settings.retry_base_seconds * 2 ** (batch.attempts - 1),
        )
        with self.db.write() as conn:
            batches.give_up_or_retry(
                conn, batch.id, self.owner, error, now_ms(), now_ms() + int(delay * 1000)
            )

    def _give_up(self, batch: Claimed, error: str) -> None:
        with self.db.write() as conn:
            batches.give_up_or_retry(conn, batch.id, None, error, now_ms(), None)
        log.error("batch.failed", batch_id=batch.id, attempts=batch.attempts, error=error)


class _Heartbeat:
    """Renews the lease of the batch in hand every ``heartbeat_seconds``."""

    def __init__(self, worker: Worker, batch: Claimed) -> None:
        self.worker = worker
        self.batch = batch
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="roster-heartbeat")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join()

    def _run(self) -> None:
        settings = self.worker.settings
        while not self.done.wait(settings.heartbeat_seconds):
            until = now_ms() + int(settings.lease_seconds * 1000)
            try:
                with self.worker.db.write() as conn:
                    batches.renew(conn, self.batch.id, self.worker.owner, until)
            except Exception:
                log.exception("worker.heartbeat_failed", batch_id=self.batch.id)
