"""Reverting customer migrations (``DELETE /customers/migrate``), each customer whole or not.

A customer that was migrated and has produced no live transaction since is removed with
everything it owns (events, transactions, wallets, devices, identifiers, the profile), as if
never migrated: its id may be migrated again from scratch (with a new uid). The others are
left untouched and reported: ``unknown_customer``, ``not_migrated``, ``has_new_transactions``,
``has_merges`` (other customers were merged into it: reverting it would lose them). Each revert
is recorded in the journal, so the timeline of a customer later created with the same id says
why its uid is new.
An applied element is a reverted customer.

A revert and a live transaction of the same workspace are batches applied in accept order,
each in one transaction, so neither ever sees half of the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from roster.domain import outcomes as oc
from roster.domain.batches import Claimed
from roster.domain.outcomes import Ledger
from roster.domain.workspaces import Workspace
from roster.formats.masivo import decode_body
from roster.store import erase, profiles
from roster.store import merges as merge_store
from roster.store import wallets as wallet_store


@dataclass(slots=True)
class RevertPlan:
    ledger: Ledger
    workspace_id: str
    batch: Claimed
    #: The reverted customers: uid -> customer id.
    reverted: dict[int, str] = field(default_factory=dict)

    def write(self, conn: Connection) -> list[Ledger]:
        erase.customers_and_all_they_own(conn, self.reverted.keys())
        at = self.batch.accepted_at
        merge_store.record(
            conn,
            (
                {
                    "workspace_id": self.workspace_id,
                    "batch_id": self.batch.id,
                    "at": at,
                    "action": "revert",
                    "uid": uid,
                    "customer_id": cid,
                    "detail": {},
                }
                for uid, cid in self.reverted.items()
            ),
        )
        return [self.ledger]


def plan_revert(conn: Connection, workspace: Workspace, batch: Claimed) -> RevertPlan:
    ids: list[str] = decode_body(batch.payload)["customers"]
    plan = RevertPlan(Ledger(total=len(ids)), workspace.id, batch)
    ledger = plan.ledger
    states = profiles.migration_states(conn, workspace.id, set(ids))
    uids = {s.uid for s in states.values()}
    live = wallet_store.with_transactions(conn, uids, live=True)
    retained = merge_store.retained_uids(conn, workspace.id, uids)
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
        elif state.uid in retained:
            msg = (
                f"customer {cid!r} holds customers merged into it since its migration: "
                "reverting it would lose them, so it is left as it is"
            )
            ledger.skip(index, cid, f"customers[{index}]", oc.HAS_MERGES, msg)
        else:
            plan.reverted[state.uid] = cid
            ledger.updated(index)  # the customer is back to before its migration
        listed.setdefault(cid, index)
    return plan
