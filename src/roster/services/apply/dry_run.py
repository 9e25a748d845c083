"""Deciding a dry run: every batch of the run, in order, applied and rolled back.

A dry run's batches are stored held (out of the queue) as they arrive. When the client says the
run is complete, a ``dry_run.decide`` batch joins the workspace's queue, so the run is decided
against the state every earlier batch left. Its write step applies each batch of the run with
its kind's own planner inside one savepoint, so each sees the effects of the ones before it
(events after their customers, transactions after their balances), then rolls the savepoint
back and keeps only the ledgers: the batches end ``done`` with the counts, effects and issues a
real run would have had, and nothing else a read can see has changed.

A run may be sent in parts (``roster load`` once per file of a migration, under one run name):
each decision decides the whole run again, the batches decided before too (their bodies and
chunks are kept for it; a dry run holds at most 50,000 elements), so the last part's decision
is a rehearsal of the whole migration against the workspace as it is now.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
from sqlalchemy.engine import Connection

from roster.domain.batches import Claimed
from roster.domain.outcomes import Ledger
from roster.domain.workspaces import Workspace
from roster.settings import Settings
from roster.store import batch_chunks, batches


class _Plan(Protocol):
    def write(self, conn: Connection) -> list[Ledger]: ...


class _Kind(Protocol):
    """What this needs of a row of ``services.apply.kinds`` (passed in: no import cycle)."""

    @property
    def plan(self) -> Any: ...

    @property
    def plan_chunk(self) -> Any: ...


def job_payload(run: str) -> bytes:
    return msgspec.json.encode({"run": run})


@dataclass(slots=True)
class DryRunPlan:
    workspace: Workspace
    run_batches: list[Claimed]
    settings: Settings
    kinds: Mapping[str, _Kind]

    def write(self, conn: Connection) -> list[Ledger]:
        ledgers: list[Ledger] = []
        savepoint = conn.begin_nested()
        try:
            for batch in self.run_batches:
                ledgers.append(self._decide(conn, batch))
        finally:
            savepoint.rollback()  # nothing the run did stays, whatever happened
        now = int(time.time() * 1000)
        ids = [b.id for b in self.run_batches]
        batches.forget_ledgers(conn, ids)  # those of an earlier decision
        batches.finish(conn, list(zip(ids, ledgers, strict=True)), now)
        return [Ledger(total=len(ids), applied=len(ids))]

    def _decide(self, conn: Connection, batch: Claimed) -> Ledger:
        kind = self.kinds[batch.kind]
        if kind.plan is not None:
            (ledger,) = kind.plan(conn, self.workspace, [batch], self.settings).write(conn)
            return ledger  # type: ignore[no-any-return]
        total = Ledger(total=0)
        for seq in range(batch_chunks.count(conn, batch.id)):
            chunk = batch_chunks.get(conn, batch.id, seq)
            plan = kind.plan_chunk(conn, self.workspace, batch, chunk, self.settings)
            (part,) = plan.write(conn)
            total.absorb(part)
        return total


def plan_dry_run(
    conn: Connection,
    workspace: Workspace,
    job: Claimed,
    settings: Settings,
    kinds: Mapping[str, _Kind],
) -> DryRunPlan:
    """The dry run the job names, with all its batches read now (decided in the write)."""
    run = msgspec.json.decode(job.payload)["run"]
    return DryRunPlan(workspace, batches.of_dry_run(conn, workspace.id, run), settings, kinds)
