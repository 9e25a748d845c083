"""The worker loop: claim a batch, decide it, write it with its ledger in one transaction, repeat.

A group of batches is decided in memory first, reading what it touches in a read transaction
(on SQLite other processes may write meanwhile); only the writes and the ``done`` marks take
the write transaction, after checking that the worker still holds every lease.

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
from typing import Protocol

import sqlalchemy.exc
import structlog
from sqlalchemy.engine import Connection

from roster.domain.outcomes import Ledger
from roster.domain.workspaces import Workspace
from roster.services.customerio_calls import plan_calls
from roster.services.faults import crash_if
from roster.services.gc_pause import collector_paused
from roster.services.live_transactions import plan_live_transaction
from roster.services.merge_requests import plan_merges
from roster.services.migrate_customers import plan_customers
from roster.services.migrate_events import plan_events
from roster.services.migrate_transactions import plan_transactions
from roster.services.people_import import plan_people_chunk
from roster.services.purge import purge_tombstones
from roster.services.revert import plan_revert
from roster.services.transition import plan_transitions
from roster.settings import Settings
from roster.store import batch_chunks, batches, planner_stats, ratelimit, workspaces
from roster.store.batch_chunks import StoredChunk
from roster.store.batches import Claimed
from roster.store.database import Database

log = structlog.get_logger("roster.worker")
HOUSEKEEPING_MS = 60_000
STATS_CHECK_MS = 5_000
RATE_WINDOW_KEPT_MS = 3_600_000
PURGE_EVERY_MS = 3_600_000


class Plan(Protocol):
    """A group of batches decided in memory, waiting to be written."""

    def write(self, conn: Connection) -> list[Ledger]:
        """Write the group's effects in ``conn``'s transaction; return each batch's ledger."""
        ...


#: Decides consecutive batches of one workspace (one or more, in order), reading but not writing.
Planner = Callable[[Connection, Workspace, list[Claimed], Settings], Plan]


def _transitions(conn: Connection, ws: Workspace, group: list[Claimed], settings: Settings) -> Plan:
    return plan_transitions(conn, ws, group, max_string=settings.max_string_length)


def _customerio(conn: Connection, ws: Workspace, group: list[Claimed], settings: Settings) -> Plan:
    return plan_calls(conn, ws, group, max_string=settings.max_string_length)


def _alone(plan: Callable[[Connection, Workspace, Claimed], Plan]) -> Planner:
    """A planner of a kind applied one batch at a time."""

    def planner(conn: Connection, ws: Workspace, group: list[Claimed], _: Settings) -> Plan:
        (batch,) = group
        return plan(conn, ws, batch)

    return planner


def _grouped(plan: Callable[[Connection, Workspace, list[Claimed]], Plan]) -> Planner:
    """A planner of a grouped kind that needs no settings."""
    return lambda conn, ws, group, _: plan(conn, ws, group)


def _migrated_customers(
    conn: Connection, ws: Workspace, group: list[Claimed], settings: Settings
) -> Plan:
    return plan_customers(conn, ws, group, max_string=settings.max_string_length)


PLANNERS: dict[str, Planner] = {
    "transition": _transitions,
    "customerio": _customerio,
    "masivo.customers": _migrated_customers,
    "masivo.events": _grouped(plan_events),
    "masivo.transactions": _grouped(plan_transactions),
    "masivo.revert": _alone(plan_revert),
    "wallet.transaction": _alone(plan_live_transaction),
    "moengage.merge": _alone(plan_merges),
    "customerio.merge": _alone(plan_merges),
}
#: Decides one chunk of a chunked batch, reading but not writing.
ChunkPlanner = Callable[[Connection, Workspace, Claimed, StoredChunk, Settings], Plan]


def _people_chunk(
    conn: Connection, ws: Workspace, batch: Claimed, chunk: StoredChunk, settings: Settings
) -> Plan:
    return plan_people_chunk(conn, ws, batch, chunk, max_string=settings.max_string_length)


#: Kinds whose body is stored in chunks, applied one chunk per transaction.
CHUNKED: dict[str, ChunkPlanner] = {"customerio.people_csv": _people_chunk}
#: Kinds whose consecutive batches may be applied together in one transaction.
GROUPED_KINDS = frozenset(
    {"transition", "customerio", "masivo.customers", "masivo.events", "masivo.transactions"}
)


def now_ms() -> int:
    return int(time.time() * 1000)


class Worker:
    """One worker loop. Several may run in one process (threads) or in many processes."""

    def __init__(self, db: Database, settings: Settings, name: str | None = None) -> None:
        self.db = db
        self.settings = settings
        host = socket.gethostname()[:48]
        self.owner = name or f"{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._last_housekeeping = 0
        self._last_purge = 0

    def run(self, stop: threading.Event) -> None:
        """Apply batches until ``stop`` is set; the batch in hand is finished first."""
        log.info("worker.started", worker=self.owner)
        keeper = None
        if not self.db.is_sqlite:
            keeper = threading.Thread(
                target=self._keep_planner_stats, args=(stop,), daemon=True, name="roster-stats"
            )
            keeper.start()
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
        if keeper is not None:
            keeper.join()
        log.info("worker.stopped", worker=self.owner)

    def _housekeeping(self) -> None:
        """When idle, at most once a minute: forget rate-limit windows older than an hour;
        about once an hour, purge old tombstones (``services.purge``)."""
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
        stats keeper thread of ``run`` calls it every few seconds, beside the apply path."""
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

    def _keep_planner_stats(self, stop: threading.Event) -> None:
        """The stats keeper: every few seconds until ``stop``, ``refresh_planner_stats``."""
        while not stop.wait(STATS_CHECK_MS / 1000):
            try:
                self.refresh_planner_stats()
            except Exception:  # the database went away: try again next time
                log.exception("worker.analyze_failed", worker=self.owner)

    def run_once(self) -> bool:
        """Claim and apply one batch (and the batches queued right behind it); ``False`` when
        there was nothing to do."""
        group = self._claim()
        if not group:
            return False
        crash_if(self.settings.fault_point, "worker_after_claim")
        head = group[0]
        if head.attempts > self.settings.max_attempts:
            msg = f"gave up after {head.attempts - 1} attempts; the last one never finished"
            self._give_up(head, msg)
            return True
        beat = _Heartbeat(self, [b.id for b in group])
        beat.start()
        try:
            if head.kind in CHUNKED:
                self._apply_chunked(head)
            else:
                self._apply(group)
        except Exception as exc:
            beat.stop()  # before touching the batches' rows again: no lock-order races
            self._after_error(group, exc)
        finally:
            beat.stop()
        return True

    def _claim(self) -> list[Claimed]:
        """The next batch, plus up to ``group_max_batches - 1`` followers on a first attempt."""
        settings = self.settings
        lease_ms = int(settings.lease_seconds * 1000)
        with self.db.write() as conn:
            head = batches.claim_next(conn, self.owner, now_ms(), lease_ms)
            if head is None:
                return []
            if head.attempts != 1 or head.retry_alone or head.kind not in GROUPED_KINDS:
                return [head]  # a retry is applied alone, so a bad batch cannot sink others
            followers = batches.claim_followers(
                conn,
                head,
                self.owner,
                now_ms() + lease_ms,
                batches=settings.group_max_batches,
                elements=settings.group_max_elements,
            )
        return [head, *followers]

    def _apply(self, group: list[Claimed]) -> None:
        started = time.perf_counter()
        with collector_paused():
            with self.db.read() as conn:  # decide in memory: no write lock held meanwhile
                workspace = workspaces.get(conn, group[0].workspace_id)
                assert workspace is not None
                plan = PLANNERS[group[0].kind](conn, workspace, group, self.settings)
            decided = time.perf_counter()
            with self.db.write() as conn:
                ledgers = self._write(conn, group, workspace, plan)
            # Free the group's objects while the collector is still off: resumed with them
            # alive, it would walk them all once before they go.
            del plan
        ids = [b.id for b in group]
        if ledgers is None:  # another worker took some over: give back whatever is still ours
            log.warning("batch.lease_lost", batch_ids=ids, worker=self.owner)
            with self.db.write() as conn:
                batches.release(conn, ids, self.owner)
            return
        crash_if(self.settings.fault_point, "worker_after_commit")
        ms = round((time.perf_counter() - started) * 1000, 1)
        decide_ms = round((decided - started) * 1000, 1)
        for batch, ledger in zip(group, ledgers, strict=True):
            log.info(
                "batch.applied",
                batch_id=batch.id,
                workspace_id=batch.workspace_id,
                kind=batch.kind,
                applied=ledger.applied,
                skipped=ledger.skipped,
                failed=ledger.failed,
                group=len(group),
                ms=ms,
                decide_ms=decide_ms,
            )

    def _apply_chunked(self, batch: Claimed) -> None:
        """A chunked batch: each chunk decided, then written in its own transaction together
        with the count of chunks done, so a worker that dies mid-batch leaves it to be resumed
        at the first chunk not applied. The last chunk's transaction marks the batch done."""
        started = time.perf_counter()
        planner = CHUNKED[batch.kind]
        with self.db.read() as conn:
            progress = batches.progress_of(conn, batch.id)
            chunks = batch_chunks.count(conn, batch.id)
        first = progress.done_chunks
        totals = Ledger(total=0)
        for seq in range(first, chunks):
            with collector_paused():
                with self.db.read() as conn:
                    workspace = workspaces.get(conn, batch.workspace_id)
                    assert workspace is not None
                    chunk = batch_chunks.get(conn, batch.id, seq)
                    plan = planner(conn, workspace, batch, chunk, self.settings)
                with self.db.write() as conn:

                    def again(ws: Workspace) -> Plan:
                        return planner(conn, ws, batch, chunk, self.settings)  # noqa: B023

                    written = self._write_held(
                        conn, [batch.id], batch.workspace_id, workspace, plan, again
                    )
                    if written is not None:
                        (ledger,) = written
                        last = seq == chunks - 1
                        progress = batches.finish_chunk(
                            conn, batch.id, progress, ledger, now_ms(), last=last
                        )
                        if last:  # applied: the file itself is not kept
                            batch_chunks.delete(conn, batch.id)
                if written is None:
                    log.warning("batch.lease_lost", batch_ids=[batch.id], worker=self.owner)
                    with self.db.write() as conn:
                        batches.release(conn, [batch.id], self.owner)
                    return
                del plan
            totals.applied += ledger.applied
            totals.skipped += ledger.skipped
            totals.failed += ledger.failed
            crash_if(self.settings.fault_point, "worker_between_chunks")
        log.info(
            "batch.applied",
            batch_id=batch.id,
            workspace_id=batch.workspace_id,
            kind=batch.kind,
            applied=totals.applied,
            skipped=totals.skipped,
            failed=totals.failed,
            chunks=chunks - first,
            resumed_at=first,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )

    def _write(
        self, conn: Connection, group: list[Claimed], decided_with: Workspace, plan: Plan
    ) -> list[Ledger] | None:
        """Write the group and mark it done, in the caller's transaction; ``None`` if this
        worker no longer holds every lease (nothing is written then)."""

        def again(workspace: Workspace) -> Plan:
            return PLANNERS[group[0].kind](conn, workspace, group, self.settings)

        ids = [b.id for b in group]
        ledgers = self._write_held(conn, ids, group[0].workspace_id, decided_with, plan, again)
        if ledgers is None:
            return None
        done = [(batch.id, ledger) for batch, ledger in zip(group, ledgers, strict=True)]
        batches.finish(conn, done, now_ms())
        return ledgers

    def _write_held(
        self,
        conn: Connection,
        batch_ids: list[str],
        workspace_id: str,
        decided_with: Workspace,
        plan: Plan,
        decide_again: Callable[[Workspace], Plan],
    ) -> list[Ledger] | None:
        """Write a decided plan in the caller's transaction, if this worker still holds every
        lease (else ``None``, and nothing is written).

        The workspace is read again first (and on PostgreSQL share-locked, so no settings
        change overlaps the write): if its settings changed since the plan was decided (new
        identifiers rebuild the whole identifier index), it is decided again, here."""
        workspace = workspaces.get_for_writing(conn, workspace_id)
        assert workspace is not None
        if not batches.hold(conn, batch_ids, self.owner):
            return None
        if workspace != decided_with:
            log.info("batch.decided_again", batch_ids=batch_ids, worker=self.owner)
            plan = decide_again(workspace)
        ledgers = plan.write(conn)
        crash_if(self.settings.fault_point, "worker_mid_apply")
        return ledgers

    def _after_error(self, group: list[Claimed], exc: Exception) -> None:
        """After an apply raised. Alone, the batch counts the attempt and waits for its retry
        (or is failed after ``max_attempts``). In a group, nobody is charged: every batch goes
        back to the queue, and the first is marked to be retried alone, so the culprit is found
        one batch at a time and an innocent batch is never failed for another's fault."""
        head = group[0]
        error = f"{type(exc).__name__}: {exc}"[:2000]
        log.error(
            "batch.error",
            batch_id=head.id,
            group=len(group),
            attempt=head.attempts,
            error=error,
            trace=traceback.format_exc(limit=5),
        )
        with self.db.write() as conn:
            if len(group) > 1:
                batches.release(conn, [b.id for b in group], self.owner)
                batches.mark_retry_alone(
                    conn, head.id, f"failed in a group of {len(group)}: {error}"
                )
                return
            if head.attempts >= self.settings.max_attempts:
                batches.give_up_or_retry(conn, head.id, self.owner, error, now_ms(), None)
                log.error("batch.failed", batch_id=head.id, attempts=head.attempts, error=error)
                return
            delay = min(
                self.settings.retry_max_seconds,
                self.settings.retry_base_seconds * 2 ** (head.attempts - 1),
            )
            retry_at = now_ms() + int(delay * 1000)
            batches.give_up_or_retry(conn, head.id, self.owner, error, now_ms(), retry_at)

    def _give_up(self, batch: Claimed, error: str) -> None:
        with self.db.write() as conn:
            batches.give_up_or_retry(conn, batch.id, self.owner, error, now_ms(), None)
        log.error("batch.failed", batch_id=batch.id, attempts=batch.attempts, error=error)


class _Heartbeat:
    """Renews the leases of the batches in hand every ``heartbeat_seconds``."""

    def __init__(self, worker: Worker, batch_ids: list[str]) -> None:
        self.worker = worker
        self.batch_ids = batch_ids
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
                    batches.renew(conn, self.batch_ids, self.worker.owner, until)
            except Exception:
                log.exception("worker.heartbeat_failed", batch_ids=self.batch_ids)
