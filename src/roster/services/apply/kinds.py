"""The table of batch kinds: one row per kind, read by the API (the name it stores, the reading
its door makes) and by the worker (the planner, whether consecutive batches group).

A kind's name is stored with each batch and shown in the batch API (``"kind": "transition"``),
so names never change. Adding a kind means one planner module in this package and one row here;
the worker needs no edit. No kind name is written anywhere else in ``src/`` (a test checks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from roster.domain.batches import Claimed
from roster.domain.outcomes import Ledger
from roster.domain.workspaces import Workspace
from roster.formats import customerio as customerio_format
from roster.formats import masivo_entries
from roster.formats import moengage as moengage_format
from roster.services.apply.customerio import plan_calls
from roster.services.apply.customerio_devices import plan_device
from roster.services.apply.customerio_people_csv import plan_people_chunk
from roster.services.apply.customerio_suppress import plan_suppression
from roster.services.apply.customerio_v2 import plan_v2
from roster.services.apply.dry_run import plan_dry_run
from roster.services.apply.masivo_customers import plan_customers
from roster.services.apply.masivo_events import plan_events
from roster.services.apply.masivo_revert import plan_revert
from roster.services.apply.masivo_transactions import plan_transactions
from roster.services.apply.merges import plan_merges
from roster.services.apply.moengage import plan_transitions
from roster.services.apply.people_delete import plan_delete
from roster.services.apply.wallet_transaction import plan_live_transaction
from roster.settings import Settings
from roster.store.batch_chunks import StoredChunk


class Plan(Protocol):
    """A group of batches (or one chunk of a batch) decided in memory, waiting to be written."""

    def write(self, conn: Connection) -> list[Ledger]:
        """Write the group's effects in ``conn``'s transaction; return each batch's ledger."""
        ...


#: Decides consecutive batches of one workspace (one or more, in order), reading but not writing.
Planner = Callable[[Connection, Workspace, list[Claimed], Settings], Plan]


class ChainedPlan(Plan, Protocol):
    """A plan the next group may be decided from while it is written (``Kind.plan_after``)."""

    @property
    def can_go_on(self) -> bool:
        """Whether this plan may be frozen and the next group decided from it."""
        ...

    def freeze(self, conn: Connection) -> None:
        """Take the rows ``write`` sends now; the plan's in-memory state is then what the
        store holds once they are written."""
        ...


#: Decides the group right after the one ``after`` decided (frozen, maybe not yet written):
#: what that one touched is taken from it, the rest read. ``after=None``: as ``Planner``.
PlannerAfter = Callable[[Connection, Workspace, list[Claimed], Settings, Any], ChainedPlan]
#: Decides one chunk of a chunked batch, reading but not writing.
ChunkPlanner = Callable[[Connection, Workspace, Claimed, StoredChunk, Settings], Plan]
#: The reading of a body the door makes once, stored beside it (``Claimed.prepared``).
Prepare = Callable[[bytes], bytes]


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of batch. Exactly one of ``plan`` and ``plan_chunk`` is set: a chunked kind's
    body is stored in chunks at the door and applied a chunk per transaction."""

    name: str
    plan: Planner | None = None
    plan_chunk: ChunkPlanner | None = None
    #: Consecutive batches of this kind may be applied together in one transaction.
    grouped: bool = False
    prepare: Prepare | None = None
    #: A planner that decides a group while the group before it is written (PostgreSQL: the
    #: worker's pipeline, ``services.worker.loop``).
    plan_after: PlannerAfter | None = None

    def __post_init__(self) -> None:
        if (self.plan is None) == (self.plan_chunk is None):
            raise ValueError(f"kind {self.name!r}: exactly one of plan and plan_chunk")
        if self.plan_chunk is not None and self.grouped:
            raise ValueError(f"kind {self.name!r}: a chunked kind is applied alone")

    @property
    def chunked(self) -> bool:
        return self.plan_chunk is not None


def _alone(plan: Callable[[Connection, Workspace, Claimed], Plan]) -> Planner:
    """A planner of a kind applied one batch at a time."""

    def planner(conn: Connection, ws: Workspace, group: list[Claimed], _: Settings) -> Plan:
        (batch,) = group
        return plan(conn, ws, batch)

    return planner


def _transitions(conn: Connection, ws: Workspace, group: list[Claimed], settings: Settings) -> Plan:
    return plan_transitions(conn, ws, group, max_string=settings.max_string_length)


def _transitions_after(
    conn: Connection, ws: Workspace, group: list[Claimed], settings: Settings, after: Any
) -> ChainedPlan:
    return plan_transitions(conn, ws, group, max_string=settings.max_string_length, after=after)


def _customerio(conn: Connection, ws: Workspace, group: list[Claimed], settings: Settings) -> Plan:
    return plan_calls(conn, ws, group, max_string=settings.max_string_length)


def _customerio_v2(
    conn: Connection, ws: Workspace, group: list[Claimed], settings: Settings
) -> Plan:
    (batch,) = group  # applied alone: its runs are decided as they are written
    return plan_v2(conn, ws, batch, max_string=settings.max_string_length)


def _people_chunk(
    conn: Connection, ws: Workspace, batch: Claimed, chunk: StoredChunk, settings: Settings
) -> Plan:
    return plan_people_chunk(conn, ws, batch, chunk, max_string=settings.max_string_length)


def _masivo_customers(
    conn: Connection, ws: Workspace, group: list[Claimed], settings: Settings
) -> Plan:
    return plan_customers(conn, ws, group, max_string=settings.max_string_length)


def _masivo_events(conn: Connection, ws: Workspace, group: list[Claimed], _: Settings) -> Plan:
    return plan_events(conn, ws, group)


def _masivo_transactions(
    conn: Connection, ws: Workspace, group: list[Claimed], _: Settings
) -> Plan:
    return plan_transactions(conn, ws, group)


def _moengage_merge(conn: Connection, ws: Workspace, batch: Claimed) -> Plan:
    return plan_merges(conn, ws, batch, "moengage", moengage_format.merge_pairs(batch.payload))


def _customerio_merge(conn: Connection, ws: Workspace, batch: Claimed) -> Plan:
    return plan_merges(conn, ws, batch, "customerio", customerio_format.merge_pair(batch.payload))


# MoEngage
TRANSITION = Kind("transition", _transitions, grouped=True, plan_after=_transitions_after)
MOENGAGE_MERGE = Kind("moengage.merge", _alone(_moengage_merge))
# Customer.io
CUSTOMERIO = Kind("customerio", _customerio, grouped=True)
CUSTOMERIO_PEOPLE_CSV = Kind("customerio.people_csv", plan_chunk=_people_chunk)
CUSTOMERIO_MERGE = Kind("customerio.merge", _alone(_customerio_merge))
CUSTOMERIO_DEVICE = Kind("customerio.device", _alone(plan_device))
CUSTOMERIO_SUPPRESS = Kind("customerio.suppress", _alone(plan_suppression))
#: Track API v2 (``/api/v2/batch``, ``/api/v2/entity``): actions of every kind above, in order.
CUSTOMERIO_V2 = Kind("customerio.v2", _customerio_v2)
# Masivo
MASIVO_CUSTOMERS = Kind("masivo.customers", _masivo_customers, grouped=True)
MASIVO_EVENTS = Kind(
    "masivo.events", _masivo_events, grouped=True, prepare=masivo_entries.prepare_events
)
MASIVO_TRANSACTIONS = Kind(
    "masivo.transactions",
    _masivo_transactions,
    grouped=True,
    prepare=masivo_entries.prepare_transactions,
)
MASIVO_REVERT = Kind("masivo.revert", _alone(plan_revert))
# Roster's own
WALLET_TRANSACTION = Kind("wallet.transaction", _alone(plan_live_transaction))
#: Customer.io's delete and MoEngage's Delete User: one person a batch (``formats.deletions``).
PEOPLE_DELETE = Kind("people.delete", _alone(plan_delete))


def _dry_run(conn: Connection, ws: Workspace, group: list[Claimed], settings: Settings) -> Plan:
    (job,) = group
    return plan_dry_run(conn, ws, job, settings, KINDS)


#: Decides a dry run's held batches as a whole (``services.apply.dry_run``).
DRY_RUN = Kind("dry_run.decide", _dry_run)

KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        TRANSITION,
        MOENGAGE_MERGE,
        CUSTOMERIO,
        CUSTOMERIO_PEOPLE_CSV,
        CUSTOMERIO_MERGE,
        CUSTOMERIO_DEVICE,
        CUSTOMERIO_SUPPRESS,
        CUSTOMERIO_V2,
        MASIVO_CUSTOMERS,
        MASIVO_EVENTS,
        MASIVO_TRANSACTIONS,
        MASIVO_REVERT,
        WALLET_TRANSACTION,
        PEOPLE_DELETE,
        DRY_RUN,
    )
}


def planner_of(kind: str) -> Planner:
    """The planner of a kind applied a group at a time."""
    plan = KINDS[kind].plan
    assert plan is not None, f"{kind} is applied a chunk at a time"
    return plan
