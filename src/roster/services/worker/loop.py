"""The worker loop: claim a batch, decide it, write it with its ledger in one transaction, repeat.

A group of batches is decided in memory first, reading what it touches in a read transaction
(on SQLite other processes may write meanwhile); only the writes and the ``done`` marks take
the write transaction, after checking that the worker still holds every lease.

The planner of each batch is found in the table of kinds (``services.apply.kinds``). While a
batch is in hand its lease is renewed (``heartbeat``); a batch that raises is retried or failed
by the retry policy (``retry``); an idle worker does its ``housekeeping``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import cast

import structlog
from sqlalchemy.engine import Connection

from roster import metrics
from roster.domain.batches import Claimed
from roster.domain.outcomes import Ledger
from roster.domain.workspaces import Workspace
from roster.gc_pause import collector_paused
from roster.services.apply.kinds import KINDS, ChainedPlan, Plan, Planner
from roster.services.worker import retry
from roster.services.worker.clock import now_ms
from roster.services.worker.faults import crash_if, stall_if
from roster.services.worker.heartbeat import Heartbeat
from roster.services.worker.housekeeping import Housekeeping
from roster.settings import Settings
from roster.store import batch_chunks, batches, turns, workspaces
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
        #: Threads whose last ``_write_held`` decided its plan again (the pipeline's writer
        #: reads it: a group decided from the first plan is then given back).
        self._decided_again: set[int] = set()
        self._writer: _Write | None = None
        self._beat: Heartbeat | None = None

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
        if self._chains(group):
            self._apply_chain(group, beat)
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
        settings = self.settings
        lease_ms = int(settings.lease_seconds * 1000)
        with self.db.write() as conn:
            head = batches.claim_next(conn, self.owner, now_ms(), lease_ms)
            if head is None:
                return []
            kind = KINDS.get(head.kind)  # an unknown kind fails when applied, alone
            followers: list[Claimed] = []
            # A retry is applied alone, so a bad batch cannot sink others.
            if head.attempts == 1 and not head.retry_alone and kind is not None and kind.grouped:
                followers = batches.claim_followers(
                    conn,
                    head,
                    self.owner,
                    now_ms() + lease_ms,
                    batches=settings.group_max_batches,
                    elements=settings.group_max_elements,
                )
            group = [head, *followers]
            turns.take(conn, head.workspace_id, now_ms(), sum(b.elements for b in group))
        return group

    def _apply(self, group: list[Claimed]) -> None:
        started = time.perf_counter()
        with collector_paused():
            with self.db.read() as conn:  # decide in memory: no write lock held meanwhile
                workspace = workspaces.get(conn, group[0].workspace_id)
                assert workspace is not None
                plan = _planner(group[0])(conn, workspace, group, self.settings)
                stall_if(
                    self.settings.fault_point, "worker_slow_decide", 3 * self.settings.lease_seconds
                )
            decided = time.perf_counter()
            with self.db.write() as conn:
                ledgers = self._write(conn, group, workspace, plan)
            # Free the group's objects while the collector is still off: resumed with them
            # alive, it would walk them all once before they go.
            del plan
        ids = [b.id for b in group]
        if ledgers is None:  # another worker took some over: give back whatever is still ours
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
        for batch, ledger in zip(group, ledgers, strict=True):
            _log_applied(batch, ledger, group=len(group), ms=ms, decide_ms=decide_ms)

    def _chains(self, group: list[Claimed]) -> bool:
        """Whether this group goes through the pipeline (``_apply_chain``)."""
        head = group[0]
        kind = KINDS.get(head.kind)  # an unknown kind fails when applied, alone
        return (
            kind is not None
            and self.settings.pipeline_groups > 1
            and not self.db.is_sqlite
            and kind.plan_after is not None
            and kind.grouped
            and head.attempts == 1
            and not head.retry_alone
        )

    def _apply_chain(self, group: list[Claimed], beat: Heartbeat) -> None:
        """Apply ``group`` and up to ``pipeline_groups - 1`` groups queued right behind it,
        each decided while the one before it is written (PostgreSQL).

        The next group is claimed (its batches are no head: no other worker could take them)
        and decided from the previous plan, frozen: what that plan touched is taken from its
        book as it leaves them, everything else read from the store, which that plan does not
        change. Each group is written in its own transaction with its ``done`` marks, only
        after the one before it committed: the result is the same as applying the groups one
        after the other, in acceptance order. If a write fails (or loses its leases, or has
        to decide again because the workspace's settings changed), the group decided from it
        is given back untouched, its attempt not counted."""
        self._writer = None
        self._beat = beat
        try:
            self._chain(group, beat)
        except BaseException:
            self._beat.stop()  # the heartbeat of the group being decided
            raise
        finally:  # never leave a write running (nor its heartbeat)
            if self._writer is not None:
                self._finish_write(self._writer)
                self._writer = None

    def _chain(self, group: list[Claimed], beat: Heartbeat) -> None:
        prior: ChainedPlan | None = None
        prior_workspace: Workspace | None = None
        for link in range(self.settings.pipeline_groups):
            started = time.perf_counter()
            plan: Plan | None = None
            chained: ChainedPlan | None = None
            error: Exception | None = None
            try:
                with collector_paused(), self.db.read() as conn:
                    workspace = workspaces.get(conn, group[0].workspace_id)
                    assert workspace is not None
                    if prior is not None and workspace != prior_workspace:
                        # settings changed: decide from the store once the prior group is in
                        ok = self._writer is not None and self._finish_write(self._writer)
                        self._writer, prior = None, None
                        if not ok:
                            self._give_back(group, beat)
                            return
                    kind = KINDS[group[0].kind]
                    if prior is None:  # the kind's own planner: as ``_apply`` decides
                        plan = _planner(group[0])(conn, workspace, group, self.settings)
                    else:
                        assert kind.plan_after is not None
                        plan = kind.plan_after(conn, workspace, group, self.settings, prior)
                    if getattr(plan, "can_go_on", False):
                        chained = cast(ChainedPlan, plan)
                    if chained is not None:
                        chained.freeze(conn)
            except Exception as exc:
                error = exc
            decided = time.perf_counter()
            writer, self._writer = self._writer, None
            if writer is not None and not self._finish_write(writer):
                self._give_back(group, beat)
                return
            if error is not None:
                beat.stop()
                metrics.APPLY_ERRORS.labels(group[0].kind).inc()
                retry.after_error(self.db, self.owner, group, error, self.settings)
                return
            assert plan is not None
            assert workspace is not None
            self._writer = _Write(self, group, workspace, plan, beat, started, decided)
            self._writer.start()
            if chained is None or link == self.settings.pipeline_groups - 1:
                break
            try:
                following = self._claim_after(group[-1])
            except Exception:
                log.exception("worker.error", worker=self.owner)
                following = []
            if not following:
                break
            prior, prior_workspace, group = chained, workspace, following
            beat = self._beat = Heartbeat(self.db, self.owner, [b.id for b in group], self.settings)
            beat.start()

    def _claim_after(self, last: Claimed) -> list[Claimed]:
        """The batches queued right behind ``last`` (a batch this worker holds) of its kind,
        as a group: no other worker can claim them, they have an unfinished batch ahead."""
        settings = self.settings
        lease_ms = int(settings.lease_seconds * 1000)
        with self.db.write() as conn:
            return batches.claim_followers(
                conn,
                last,
                self.owner,
                now_ms() + lease_ms,
                batches=settings.group_max_batches + 1,  # ``last`` counts in the limit
                elements=settings.group_max_elements,
            )

    def _give_back(self, group: list[Claimed], beat: Heartbeat) -> None:
        """A group decided from a plan that was not written: queued again as it was."""
        beat.stop()
        with self.db.write() as conn:
            batches.release(conn, [b.id for b in group], self.owner)
        log.info("batch.given_back", batch_ids=[b.id for b in group], worker=self.owner)

    def _finish_write(self, writer: _Write) -> bool:
        """Wait for a group's write and account for it; ``True`` if it committed as decided
        (the next group may then be written after it)."""
        writer.join()
        group = writer.group
        writer.beat.stop()
        if writer.error is not None:
            metrics.APPLY_ERRORS.labels(group[0].kind).inc()
            retry.after_error(self.db, self.owner, group, writer.error, self.settings)
            return False
        ids = [b.id for b in group]
        if writer.ledgers is None:
            metrics.LEASES_LOST.inc()
            log.warning("batch.lease_lost", batch_ids=ids, worker=self.owner)
            with self.db.write() as conn:
                batches.release(conn, ids, self.owner)
            return False
        crash_if(self.settings.fault_point, "worker_after_commit")
        seconds = writer.finished - writer.started
        metrics.APPLY_SECONDS.labels(group[0].kind).observe(seconds)
        ms = round(seconds * 1000, 1)
        decide_ms = round((writer.decided - writer.started) * 1000, 1)
        for batch, ledger in zip(group, writer.ledgers, strict=True):
            _log_applied(batch, ledger, group=len(group), ms=ms, decide_ms=decide_ms)
        return not writer.decided_again

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
                        (ledger,) = written
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
        _log_applied(
            batch, totals, chunks=chunks - first, resumed_at=first, ms=round(seconds * 1000, 1)
        )

    def _write(
        self, conn: Connection, group: list[Claimed], decided_with: Workspace, plan: Plan
    ) -> list[Ledger] | None:
        """Write the group and mark it done, in the caller's transaction; ``None`` if this
        worker no longer holds every lease (nothing is written then)."""

        def again(workspace: Workspace) -> Plan:
            return _planner(group[0])(conn, workspace, group, self.settings)

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
            self._decided_again.add(threading.get_ident())
        ledgers = plan.write(conn)
        crash_if(self.settings.fault_point, "worker_mid_apply")
        return ledgers


class _Write(threading.Thread):
    """One group's write transaction, in a thread of its own while the worker decides the
    next group (psycopg waits for the server without holding the interpreter lock)."""

    def __init__(
        self,
        worker: Worker,
        group: list[Claimed],
        workspace: Workspace,
        plan: Plan,
        beat: Heartbeat,
        started: float,
        decided: float,
    ) -> None:
        super().__init__(name="roster-write", daemon=True)
        self.worker, self.group, self.workspace, self.plan = worker, group, workspace, plan
        self.beat, self.started, self.decided = beat, started, decided
        self.ledgers: list[Ledger] | None = None
        self.error: Exception | None = None
        self.decided_again = False
        self.finished = 0.0

    def run(self) -> None:
        worker = self.worker
        me = threading.get_ident()
        worker._decided_again.discard(me)
        try:
            with collector_paused():
                with worker.db.write() as conn:
                    self.ledgers = worker._write(conn, self.group, self.workspace, self.plan)
                self.plan = None  # type: ignore[assignment]  # freed with the collector off
        except Exception as exc:
            self.error = exc
        self.decided_again = me in worker._decided_again
        worker._decided_again.discard(me)
        self.finished = time.perf_counter()


def _log_applied(batch: Claimed, ledger: Ledger, **extra: object) -> None:
    """``batch.applied``: the one event of a batch applied, with its counts."""
    log.info(
        "batch.applied",
        batch_id=batch.id,
        workspace_id=batch.workspace_id,
        kind=batch.kind,
        applied=ledger.applied,
        skipped=ledger.skipped,
        failed=ledger.failed,
        **extra,
    )


def _planner(batch: Claimed) -> Planner:
    plan = KINDS[batch.kind].plan
    assert plan is not None, f"{batch.kind} is applied a chunk at a time"
    return plan
