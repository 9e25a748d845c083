"""Customer.io's suppress and unsuppress (``formats.deletions.Suppression``).

Suppressing deletes the person the identifier names, as a delete does
(``services.apply.people_delete``: journaled, a wallet holder kept and the call failed
``has_wallet``), and keeps the identifier out: later Customer.io calls naming it are skipped
(``suppressed``) until it is unsuppressed. Suppressing an identifier no one holds only keeps it
out. Unsuppressing lets calls in again and recreates nothing; one not suppressed is skipped
(``not_suppressed``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Connection

from roster.domain import outcomes as oc
from roster.domain.batches import Claimed
from roster.domain.identity import normalise_identifier
from roster.domain.outcomes import Ledger
from roster.domain.workspaces import Workspace
from roster.formats import deletions
from roster.services.apply.people_delete import DeletePlan, decide_delete
from roster.store import suppressions


@dataclass(slots=True)
class SuppressPlan:
    ledger: Ledger
    workspace_id: str
    batch: Claimed
    identifier: str
    suppress: bool
    deletion: DeletePlan | None = None
    #: Whether the write changes the suppression list.
    change: bool = False

    def write(self, conn: Connection) -> list[Ledger]:
        if self.deletion is not None:
            self.deletion.write(conn)
        if self.change and self.suppress:
            at = self.batch.accepted_at
            suppressions.suppress(conn, self.workspace_id, self.identifier, at, self.batch.id)
        elif self.change:
            suppressions.unsuppress(conn, self.workspace_id, self.identifier)
        return [self.ledger]


def suppression_key(target: deletions.Target) -> str:
    """What the suppression list holds for the identifier: an email normalised."""
    return normalise_identifier("email", target.value) if target.by == "email" else target.value


def plan_suppression(conn: Connection, workspace: Workspace, batch: Claimed) -> SuppressPlan:
    return decide_suppression(conn, workspace, batch, deletions.decode_suppression(batch.payload))


def decide_suppression(
    conn: Connection, workspace: Workspace, batch: Claimed, found: deletions.Suppression
) -> SuppressPlan:
    """The suppression (or unsuppression) ``found``, decided (its ledger's one element)."""
    target = found.target
    key = suppression_key(target)
    already = bool(suppressions.among_suppressed(conn, workspace.id, [key]))
    plan = SuppressPlan(Ledger(total=1), workspace.id, batch, key, found.op == "suppress")
    if not plan.suppress:
        if not already:
            msg = f"{target.value!r} is not suppressed: nothing to unsuppress"
            plan.ledger.skip(0, target.value, target.field, oc.NOT_SUPPRESSED, msg)
        else:
            plan.change = True
            plan.ledger.updated(0)
        return plan
    deletion = decide_delete(conn, workspace, batch, target)
    if deletion.ledger.failed:  # a wallet holder: neither deleted nor suppressed
        plan.ledger = deletion.ledger
        return plan
    plan.deletion = deletion  # writes nothing when no one held the identifier
    plan.change = not already
    if deletion.deleted is not None or plan.change:
        plan.ledger.updated(0)
    else:
        plan.ledger.unchanged(0)
    return plan
