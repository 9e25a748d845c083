"""The worker's pipeline (PostgreSQL): decide a workspace's next group while the group before
it is written.

A worker that holds a group of transitions claims the batches queued right behind it (no other
worker could: they are no workspace's head) and decides them while the previous group is
written in a thread of its own (psycopg waits for the server without holding the interpreter
lock). The next group is decided from the previous plan, frozen: what that plan touched is
taken from its book as it leaves them, everything else is read from the store, which that plan
does not change. Each group is written in its own transaction with its ``done`` marks, only
after the one before it committed, so the result is that of applying the groups one after the
other, in acceptance order. If a write fails, loses its leases or has to decide again (the
workspace's settings changed), the group decided from it is given back untouched, its attempt
not counted.

The chain stops after ``pipeline_groups`` groups, and as soon as another workspace with an
earlier turn (``domain.fairness``) has a batch ready: the pipeline never delays the fair claim.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, cast

import structlog

from roster import metrics
from roster.domain.batches import Claimed
from roster.domain.outcomes import Ledger
from roster.domain.workspaces import Workspace
from roster.gc_pause import collector_paused
from roster.services.apply.kinds import KINDS, ChainedPlan, Plan, planner_of
from roster.services.worker import retry
from roster.services.worker.clock import now_ms
from roster.services.worker.faults import crash_if, stall_if
from roster.services.worker.heartbeat import Heartbeat
from roster.services.worker.written import log_applied
from roster.store import batches, workspace_turns, workspaces

if TYPE_CHECKING:
    from roster.services.worker.loop import Worker

log = structlog.get_logger("roster.worker")


class Pipeline:
    """The pipeline of one worker loop."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self._writer: _Write | None = None
        self._beat: Heartbeat | None = None

    def takes(self, group: list[Claimed]) -> bool:
        """Whether this group goes through the pipeline: PostgreSQL, a kind that can be
        decided after a frozen plan, a first attempt."""
        head = group[0]
        kind = KINDS.get(head.kind)  # an unknown kind fails when applied, alone
        return (
            kind is not None
            and self.worker.settings.pipeline_groups > 1
            and not self.worker.db.is_sqlite
            and kind.plan_after is not None
            and kind.grouped
            and head.attempts == 1
            and not head.retry_alone
        )

    def run(self, group: list[Claimed], beat: Heartbeat) -> None:
        """Apply ``group`` and up to ``pipeline_groups - 1`` groups queued right behind it."""
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
        worker, settings = self.worker, self.worker.settings
        prior: ChainedPlan | None = None
        prior_workspace: Workspace | None = None
        for link in range(settings.pipeline_groups):
            started = time.perf_counter()
            plan: Plan | None = None
            chained: ChainedPlan | None = None
            error: Exception | None = None
            try:
                with collector_paused(), worker.db.read() as conn:
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
                    if prior is None:  # the kind's own planner: as ``Worker._apply`` decides
                        plan = planner_of(group[0].kind)(conn, workspace, group, settings)
                    else:
                        assert kind.plan_after is not None
                        plan = kind.plan_after(conn, workspace, group, settings, prior)
                    stall_if(settings.fault_point, "worker_slow_decide", 3 * settings.lease_seconds)
                    if getattr(plan, "can_go_on", False):
                        chained = cast(ChainedPlan, plan)
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
                retry.after_error(worker.db, worker.owner, group, error, settings)
                return
            assert plan is not None
            assert workspace is not None
            self._writer = _Write(worker, group, workspace, plan, beat, started, decided)
            self._writer.start()
            if chained is None or link == settings.pipeline_groups - 1:
                break
            try:
                following = self._claim_after(group[-1])
            except Exception:
                log.exception("worker.error", worker=worker.owner)
                following = []
            if not following:
                break
            prior, prior_workspace, group = chained, workspace, following
            beat = self._beat = Heartbeat(worker.db, worker.owner, [b.id for b in group], settings)
            beat.start()

    def _claim_after(self, last: Claimed) -> list[Claimed]:
        """The batches queued right behind ``last`` (a batch this worker holds) of its kind, as
        a group, its workspace's turn charged for it; none if another workspace whose turn
        comes earlier has a batch ready (it goes first: back to the claim)."""
        worker = self.worker
        with worker.db.write() as conn:
            if batches.earlier_turn_ready(conn, last.workspace_id, now_ms()):
                return []
            # ``last`` counts in the limit
            group = worker.take_followers(conn, last, worker.settings.group_max_batches + 1)
            workspace_turns.take(conn, group, now_ms())
            return group

    def _give_back(self, group: list[Claimed], beat: Heartbeat) -> None:
        """A group decided from a plan that was not written: queued again as it was."""
        worker = self.worker
        beat.stop()
        with worker.db.write() as conn:
            batches.release(conn, [b.id for b in group], worker.owner)
        log.info("batch.given_back", batch_ids=[b.id for b in group], worker=worker.owner)

    def _finish_write(self, writer: _Write) -> bool:
        """Wait for a group's write and account for it; ``True`` if it committed as decided
        (the next group may then be written after it)."""
        worker = self.worker
        writer.join()
        group = writer.group
        writer.beat.stop()
        if writer.error is not None:
            metrics.APPLY_ERRORS.labels(group[0].kind).inc()
            retry.after_error(worker.db, worker.owner, group, writer.error, worker.settings)
            return False
        ids = [b.id for b in group]
        if writer.ledgers is None:
            metrics.LEASES_LOST.inc()
            log.warning("batch.lease_lost", batch_ids=ids, worker=worker.owner)
            with worker.db.write() as conn:
                batches.release(conn, ids, worker.owner)
            return False
        crash_if(worker.settings.fault_point, "worker_after_commit")
        seconds = writer.finished - writer.started
        metrics.APPLY_SECONDS.labels(group[0].kind).observe(seconds)
        ms = round(seconds * 1000, 1)
        decide_ms = round((writer.decided - writer.started) * 1000, 1)
        for batch, ledger in zip(group, writer.ledgers, strict=True):
            log_applied(batch, ledger, group=len(group), ms=ms, decide_ms=decide_ms, piped=True)
        return not writer.decided_again


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
        try:
            with collector_paused():
                with self.worker.db.write() as conn:
                    written = self.worker.write(conn, self.group, self.workspace, self.plan)
                self.plan = None  # type: ignore[assignment]  # freed with the collector off
            if written is not None:
                self.ledgers, self.decided_again = written.ledgers, written.decided_again
        except Exception as exc:
            self.error = exc
        self.finished = time.perf_counter()
