"""Deleting a person (Customer.io's delete, MoEngage's Delete User): the profile and all it owns.

The person is removed with its identifiers, devices and events (``store.erase``), and so are the
tombstones of customers merged into it (they hold no data, only where they went); the deletion
is recorded in the journal (action ``delete``), so the timeline of a customer later created with
the same id says why its uid is new. The customer id is free at once: the next call naming it
creates a new person. MoEngage keeps a deleted user for 24 hours before removing it; Roster
removes it when the batch is applied (see docs/decisions.md).

Not deleted, and reported: a person no one holds (``unknown_customer``, skipped), and a person
with a Masivo wallet (``has_wallet``, failed): deleting it would lose a balance; reverting its
migration (``DELETE /customers/migrate``) removes a migrated customer with its wallet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from roster.domain import outcomes as oc
from roster.domain.batches import Claimed
from roster.domain.element_rules import excerpt
from roster.domain.identity import normalise_identifier
from roster.domain.outcomes import Ledger
from roster.domain.workspaces import Workspace
from roster.formats import deletions
from roster.store import erase, profiles
from roster.store import merges as merge_store
from roster.store import wallets as wallet_store


@dataclass(slots=True)
class DeletePlan:
    ledger: Ledger
    workspace_id: str
    batch: Claimed
    #: The deleted person: ``(uid, customer id)``; and the tombstones merged into it.
    deleted: tuple[int, str | None] | None = None
    tombstones: list[int] = field(default_factory=list)

    def write(self, conn: Connection) -> list[Ledger]:
        if self.deleted is None:
            return [self.ledger]
        uid, cid = self.deleted
        erase.customers_and_all_they_own(conn, [*self.tombstones, uid])
        entry = {
            "workspace_id": self.workspace_id,
            "batch_id": self.batch.id,
            "at": self.batch.accepted_at,
            "action": "delete",
            "uid": uid,
            "customer_id": cid,
            "detail": {"tombstones": self.tombstones},
        }
        merge_store.record(conn, [entry])
        return [self.ledger]


def plan_delete(conn: Connection, workspace: Workspace, batch: Claimed) -> DeletePlan:
    return decide_delete(conn, workspace, batch, deletions.decode(batch.payload))


def decide_delete(
    conn: Connection, workspace: Workspace, batch: Claimed, target: deletions.Target
) -> DeletePlan:
    """The deletion of the person ``target`` names, decided (its ledger's one element)."""
    plan = DeletePlan(Ledger(total=1), workspace.id, batch)
    found = _holder(conn, workspace, target)
    if found is None:
        msg = f"no person has {target.by} {excerpt(target.value)}: nothing deleted"
        plan.ledger.skip(0, target.value, target.field, oc.UNKNOWN_CUSTOMER, msg)
        return plan
    uid, cid = found
    if wallet_store.of_uids(conn, {uid}):
        msg = (
            f"customer {cid or uid!r} holds a wallet: deleting it would lose its balance "
            "(revert its migration to remove a migrated customer with its wallet)"
        )
        plan.ledger.fail(0, target.value, target.field, oc.HAS_WALLET, msg)
        return plan
    plan.deleted = (uid, cid)
    plan.tombstones = merge_store.tombstones_into(conn, workspace.id, uid)
    plan.ledger.updated(0)  # the stored data changed: the person is gone
    return plan


def _holder(
    conn: Connection, workspace: Workspace, target: deletions.Target
) -> tuple[int, str | None] | None:
    """The live person the target names: ``(uid, customer id)``."""
    ws = workspace.id
    if target.by == "email":
        email = normalise_identifier("email", target.value)
        indexed = "email" in workspace.identifiers
        return profiles.email_holders(conn, ws, {email}, indexed=indexed).get(email)
    if target.by == "uid":
        if not (target.value.isdigit() and len(target.value) <= 18):
            return None
        found = profiles.load_by_uids(conn, ws, {int(target.value)})  # tombstones left out
    else:
        found = profiles.load_by_customer_ids(conn, ws, {target.value}, with_attributes=False)
    for profile in found:
        if profile.uid is not None:
            return profile.uid, profile.customer_id
    return None
