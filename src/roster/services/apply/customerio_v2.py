"""Applying a Customer.io Track API v2 batch: its operations in order, each by the rules of
the v1 call of the same name.

A v2 batch mixes actions (identify a person, record an event, delete a device, merge two
people, ...). Its operations are applied in request order, in one transaction, with the
planners of the v1 calls: consecutive people and events together (``plan_operations``, as a
Customer.io batch), every other operation alone (``decide_delete``, ``decide_device``,
``decide_suppression``, ``plan_merges``). Each run is decided once the runs before it are
written, so an event sees the person an earlier identify created and a delete the devices an
earlier ``add_device`` gave. Each run's ledger becomes its part of the batch's ledger.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from roster.domain import outcomes as oc
from roster.domain.batches import Claimed
from roster.domain.element_rules import field_name
from roster.domain.merges import Pair
from roster.domain.outcomes import Ledger
from roster.domain.workspaces import Workspace
from roster.formats import customerio as cio
from roster.formats import customerio_v2 as v2
from roster.formats import deletions
from roster.formats.customerio_devices import DeviceOp
from roster.services.apply.customerio import plan_operations
from roster.services.apply.customerio_devices import decide_device
from roster.services.apply.customerio_suppress import decide_suppression
from roster.services.apply.merges import plan_merges
from roster.services.apply.people_delete import decide_delete

_CALLS = (cio.Person, cio.Event)


@dataclass(slots=True)
class V2Plan:
    """The batch's operations, read; decided and written run by run in ``write``."""

    workspace: Workspace
    batch: Claimed
    entries: list[v2.Entry]
    max_string: int

    def write(self, conn: Connection) -> list[Ledger]:
        ledger = Ledger(total=0)
        for run in _runs(self.entries):
            part = self._apply(conn, run)
            for entry in run:
                _warn(part, entry)
            ledger.absorb(part)
        return [ledger]

    def _apply(self, conn: Connection, run: list[v2.Entry]) -> Ledger:
        first = run[0].index
        if isinstance(run[0].action, _CALLS):
            part = Ledger(total=len(run), first=first)
            ops: list[cio.Operation] = [e.action for e in run]  # type: ignore[misc]
            plan = plan_operations(
                conn, self.workspace, [self.batch], [ops], [part], max_string=self.max_string
            )
            plan.write(conn)
            return part
        (entry,) = run
        return self._one(conn, entry).shifted(first)

    def _one(self, conn: Connection, entry: v2.Entry) -> Ledger:
        """One operation that is not a person or an event, in a ledger of its own."""
        ws, batch, action = self.workspace, self.batch, entry.action
        if isinstance(action, v2.Refused):
            return _refused(action, entry.key)
        if isinstance(action, deletions.Target):
            (ledger,) = decide_delete(conn, ws, batch, action).write(conn)
        elif isinstance(action, DeviceOp):
            (ledger,) = decide_device(conn, ws, batch, action).write(conn)
        elif isinstance(action, deletions.Suppression):
            (ledger,) = decide_suppression(conn, ws, batch, action).write(conn)
        else:
            assert isinstance(action, Pair)
            (ledger,) = plan_merges(conn, ws, batch, "customerio", [action]).write(conn)
        return ledger


def plan_v2(conn: Connection, workspace: Workspace, batch: Claimed, *, max_string: int) -> V2Plan:
    """The batch's operations, read now, decided in the write (each run after the ones before
    it are written)."""
    return V2Plan(workspace, batch, v2.entries_of(batch.payload), max_string)


def _runs(entries: list[v2.Entry]) -> Iterator[list[v2.Entry]]:
    """Consecutive people and events together; every other operation alone."""
    run: list[v2.Entry] = []
    for entry in entries:
        if isinstance(entry.action, _CALLS):
            run.append(entry)
            continue
        if run:
            yield run
            run = []
        yield [entry]
    if run:
        yield run


def _refused(refused: v2.Refused, key: str | None) -> Ledger:
    ledger = Ledger(total=1)
    if refused.skipped:
        ledger.skip(0, key, refused.field, refused.code, refused.message)
    else:
        ledger.fail(0, key, refused.field, refused.code, refused.message)
    return ledger


def _warn(ledger: Ledger, entry: v2.Entry) -> None:
    for sent in entry.unknown:
        name = field_name(sent)
        msg = (
            f"'{name}' is not a field of a Track API v2 operation: ignored (a typo? "
            "docs/compatibility.md lists the fields)"
        )
        ledger.note(entry.index, entry.key, name, oc.UNKNOWN_FIELD, msg)
    for name in entry.ignored:
        msg = f"'{name}' is ignored: Roster keeps no objects to relate people to"
        ledger.note(entry.index, entry.key, name, oc.NOT_SUPPORTED, msg)
