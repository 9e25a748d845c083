"""Reverting customer migrations (``DELETE /customers/migrate``), each customer whole or not.

A customer that was migrated and has produced no live transaction since is removed with
everything it owns (events, transactions, wallets, devices, identifiers, the profile), as if
never migrated: its id may be migrated again from scratch (with a new uid). The others are
left untouched and reported: ``unknown_customer``, ``not_migrated``, ``has_new_transactions``.
An applied element is a reverted customer.

A revert and a live transaction of the same workspace are batches applied in accept order,
each in one transaction, so neither ever sees half of the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from roster.domain import outcomes as oc
from roster.domain.outcomes import Ledger
from roster.domain.workspaces import Workspace
from roster.formats.masivo import decode_body
from roster.store import erase, profiles
from roster.store import wallets as wallet_store
from roster.store.batches import Claimed


@dataclass(slots=True)
class RevertPlan:
    ledger: Ledger
    uids: set[int] = field(default_factory=set)

    def write(self, conn: Connection) -> list[Ledger]:
        erase.customers_and_all_they_own(conn, self.uids)
        return [self.ledger]


def plan_revert(conn: Connection, workspace: Workspace, batch: Claimed) -> RevertPlan:
    ids: list[str] = decode_body(batch.payload)["customers"]
    plan = RevertPlan(Ledger(total=len(ids)))
    ledger = plan.ledger
    states = profiles.migration_states(conn, workspace.id, set(ids))
    live = wallet_store.with_transactions(conn, {s.uid for s in states.values()}, live=True)
    listed: dict[str, int] = {}
    for index, cid in enumerate(ids):
        state = states.get(cid)
        if cid in listed:
            msg = f"customer {cid!r} is already listed at index {listed[cid]}: ignored"
            ledger.skip(index, cid, f"customers[{index}]", oc.DUPLICATE_IGNORED, msg)
        elif state is None:
            msg = f"customer {cid!r} does not exist"
            ledger.skip(index, cid, f"customers[{index}]", oc.UNKNOWN_CUSTOMER, msg)
        elif not state.migrated:
            msg = f"customer {cid!r} was not created by a migration: nothing to revert"
            ledger.skip(index, cid, f"customers[{index}]", oc.NOT_MIGRATED, msg)
        elif state.uid in live:
            msg = (
                f"customer {cid!r} has live transactions since its migration: reverting it "
                "would lose them, so it is left as it is"
            )
            ledger.skip(index, cid, f"customers[{index}]", oc.HAS_NEW_TRANSACTIONS, msg)
        else:
            plan.uids.add(state.uid)
            ledger.mark_applied()
        listed.setdefault(cid, index)
    return plan
