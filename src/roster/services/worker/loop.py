"""The worker loop: claim a batch, decide it, write it with its ledger in one transaction, repeat.

A group of batches is decided in memory first, reading what it touches in a read transaction
(on SQLite other processes may write meanwhile); only the writes and the ``done`` marks take
the write transaction, after checking that the worker still holds every lease.

The planner of each batch is found in the table of kinds (``services.apply.kinds``). While a
batch is in hand its lease is renewed (``heartbeat``); a batch that raises is retried or failed
by the retry policy (``retry``); an idle worker does its ``housekeeping``. The claim is fair
across workspaces (``domain.fairness``); on PostgreSQL a group of transitions goes through the
``pipeline``, which decides the next group while this one is written.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

import structlog
from sqlalchemy.engine import Connection

from roster import metrics
from roster.domain.batches import Claimed
from roster.domain.outcomes import Ledger
from roster.domain.workspaces import Workspace
from roster.gc_pause import collector_paused
from roster.services.apply.kinds import KINDS, Plan, planner_of
from roster.services.worker import retry
from roster.services.worker.clock import now_ms
from roster.services.worker.faults import crash_if, stall_if
from roster.services.worker.heartbeat import Heartbeat
from roster.services.worker.housekeeping import Housekeeping
from roster.services.worker.pipeline import Pipeline
from roster.services.worker.written import Written, log_applied
from roster.settings import Settings
from roster.store import batch_chunks, batches, workspace_turns, workspaces
from roster.store.database import Database

log = structlog.get_logger("roster.worker")


class Worker:
    """One worker loop. Several may run in one process (threads) or in many processes."""

    def __init__(self, db: Database, settings: Settings, name: str | None = None) -> None:
        self.db = db
        self.settings = settings
        host = socket.gethostname()[:48]
        self.owner = name or f"{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.housekeeping = Housekeeping(db, self.owner)
        self.pipeline = Pipeline(self)

    def run(self, stop: threading.Event) -> None:
        """Apply batches until ``stop`` is set; the batch in hand is finished first."""
        log.info("worker.started", worker=self.owner)
        keeper = self.housekeeping.start_stats_keeper(stop)
        while not stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # the database went away: wait and try again
                log.exception("worker.error", worker=self.owner)
                worked = False
                stop.wait(self.settings.poll_seconds * 5)
            if not worked:
                self.housekeeping.run_if_due()
                stop.wait(self.settings.poll_seconds)
        if keeper is not None:
            keeper.join()
        log.info("worker.stopped", worker=self.owner)

    def run_once(self) -> bool:
        """Claim and apply one batch (and the batches queued right behind it); ``False`` when
        there was nothing to do."""
        group = self._claim()
        if not group:
            return False
        crash_if(self.settings.fault_point, "worker_after_claim")
        head = group[0]
        if head.taken_over:
            metrics.LEASE_TAKEOVERS.inc()
            log.warning("batch.taken_over", batch_id=head.id, attempt=head.attempts)
        if retry.given_up(head.attempts, self.settings):
            msg = f"gave up after {head.attempts - 1} attempts; the last one never finished"
            retry.give_up(self.db, self.owner, head, msg)
            return True
        beat = Heartbeat(self.db, self.owner, [b.id for b in group], self.settings)
        beat.start()
        if self.pipeline.takes(group):
            self.pipeline.run(group, beat)
            return True
        try:
            if KINDS[head.kind].chunked:
                self._apply_chunked(head)
            else:
                self._apply(group)
        except Exception as exc:
            beat.stop()  # before touching the batches' rows again: no lock-order races
            metrics.APPLY_ERRORS.labels(head.kind).inc()
            retry.after_error(self.db, self.owner, group, exc, self.settings)
        finally:
            beat.stop()
        return True

    def _claim(self) -> list[Claimed]:
        """The next batch, plus up to ``group_max_batches - 1`` followers on a first attempt."""
        lease_ms = int(self.settings.lease_seconds * 1000)
        with self.db.write() as conn:
            head = batches.claim_next(conn, self.owner, now_ms(), lease_ms)
            if head is None:
                return []
            kind = KINDS.get(head.kind)  # an unknown kind fails when applied, alone
            group = [head]
            # A retry is applied alone, so a bad batch cannot sink others.
            if head.attempts == 1 and not head.retry_alone and kind is not None and kind.grouped:
                group += self.take_followers(conn, head, self.settings.group_max_batches)
            workspace_turns.take(conn, group, now_ms())
        return group

    def take_followers(self, conn: Connection, after: Claimed, most: int) -> list[Claimed]:
        """Claim the batches queued right behind ``after`` in its workspace, of its kind: a group
        of at most ``most`` batches counting ``after`` (in the caller's transaction)."""
        settings = self.settings
        return batches.claim_followers(
            conn,
            after,
            self.owner,
            now_ms() + int(settings.lease_seconds * 1000),
            batches=most,
            elements=settings.group_max_elements,
        )

    def _apply(self, group: list[Claimed]) -> None:
        started = time.perf_counter()
        with collector_paused():
            with self.db.read() as conn:  # decide in memory: no write lock held meanwhile
                workspace = workspaces.get(conn, group[0].workspace_id)
                assert workspace is not None
                plan = planner_of(group[0].kind)(conn, workspace, group, self.settings)
                stall_if(
                    self.settings.fault_point, "worker_slow_decide", 3 * self.settings.lease_seconds
                )
            decided = time.perf_counter()
            with self.db.write() as conn:
                written = self.write(conn, group, workspace, plan)
            # Free the group's objects while the collector is still off: resumed with them
            # alive, it would walk them all once before they go.
            del plan
        ids = [b.id for b in group]
        if written is None:  # another worker took some over: give back whatever is still ours
            metrics.LEASES_LOST.inc()
            log.warning("batch.lease_lost", batch_ids=ids, worker=self.owner)
            with self.db.write() as conn:
                batches.release(conn, ids, self.owner)
            return
        crash_if(self.settings.fault_point, "worker_after_commit")
        seconds = time.perf_counter() - started
        metrics.APPLY_SECONDS.labels(group[0].kind).observe(seconds)
        ms = round(seconds * 1000, 1)
        decide_ms = round((decided - started) * 1000, 1)
        for batch, ledger in zip(group, written.ledgers, strict=True):
            log_applied(batch, ledger, group=len(group), ms=ms, decide_ms=decide_ms)

    def _apply_chunked(self, batch: Claimed) -> None:
        """A chunked batch: each chunk decided, then written in its own transaction together
        with the count of chunks done, so a worker that dies mid-batch leaves it to be resumed
        at the first chunk not applied. The last chunk's transaction marks the batch done."""
        started = time.perf_counter()
        planner = KINDS[batch.kind].plan_chunk
        assert planner is not None
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
                        (ledger,) = written.ledgers
                        last = seq == chunks - 1
                        progress = batches.finish_chunk(
                            conn, batch.id, progress, ledger, now_ms(), last=last
                        )
                        if last:  # applied: the file itself is not kept
                            batch_chunks.delete(conn, batch.id)
                if written is None:
                    metrics.LEASES_LOST.inc()
                    log.warning("batch.lease_lost", batch_ids=[batch.id], worker=self.owner)
                    with self.db.write() as conn:
                        batches.release(conn, [batch.id], self.owner)
                    return
                del plan
            totals.absorb(replace(ledger, issues=[]))  # the issues are stored already
            crash_if(self.settings.fault_point, "worker_between_chunks")
        seconds = time.perf_counter() - started
        metrics.APPLY_SECONDS.labels(batch.kind).observe(seconds)
        log_applied(
            batch, totals, chunks=chunks - first, resumed_at=first, ms=round(seconds * 1000, 1)
        )

    def write(
        self, conn: Connection, group: list[Claimed], decided_with: Workspace, plan: Plan
    ) -> Written | None:
        """Write the group and mark it done, in the caller's transaction; ``None`` if this
        worker no longer holds every lease (nothing is written then)."""

        def again(workspace: Workspace) -> Plan:
            return planner_of(group[0].kind)(conn, workspace, group, self.settings)

        ids = [b.id for b in group]
        written = self._write_held(conn, ids, group[0].workspace_id, decided_with, plan, again)
        if written is None:
            return None
        done = [(batch.id, ledger) for batch, ledger in zip(group, written.ledgers, strict=True)]
        batches.finish(conn, done, now_ms())
        return written

    def _write_held(
        self,
        conn: Connection,
        batch_ids: list[str],
        workspace_id: str,
        decided_with: Workspace,
        plan: Plan,
        decide_again: Callable[[Workspace], Plan],
    ) -> Written | None:
        """Write a decided plan in the caller's transaction, if this worker still holds every
        lease (else ``None``, and nothing is written).

        The workspace is read again first (and on PostgreSQL share-locked, so no settings
        change overlaps the write): if its settings changed since the plan was decided (new
        identifiers rebuild the whole identifier index), it is decided again, here."""
        workspace = workspaces.get_for_writing(conn, workspace_id)
        assert workspace is not None
        if not batches.hold(conn, batch_ids, self.owner):
            return None
        again = workspace != decided_with
        if again:
            log.info("batch.decided_again", batch_ids=batch_ids, worker=self.owner)
            plan = decide_again(workspace)
        ledgers = plan.write(conn)
        crash_if(self.settings.fault_point, "worker_mid_apply")
        return Written(ledgers, decided_again=again)
