"""Applying a live wallet transaction (``POST /v1/customers/{customer_id}/transactions``).

A live transaction changes its reward's balance (a wallet with no migrated balance opens at
0) and makes the customer non-revertible and no longer migrated-only. A balance never goes
below 0: a transaction that would take it there fails ``insufficient_balance``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

from roster.domain import outcomes as oc
from roster.domain.batches import Claimed
from roster.domain.element_rules import EntryProblem
from roster.domain.loyalty import EXACT, amount_text, read_transaction
from roster.domain.outcomes import Ledger
from roster.domain.workspaces import Workspace
from roster.formats.masivo import decode_body, encode_entry, unknown_in_transaction
from roster.services.apply.masivo_transactions import transaction_row
from roster.store import profiles
from roster.store import wallets as wallet_store


@dataclass(slots=True)
class LivePlan:
    ledger: Ledger
    now: int
    transactions: list[tuple[Any, ...]] = field(default_factory=list)
    new_wallets: list[tuple[Any, ...]] = field(default_factory=list)
    balances: list[tuple[int, str, str, int]] = field(default_factory=list)
    customers: set[int] = field(default_factory=set)

    def write(self, conn: Connection) -> list[Ledger]:
        wallet_store.insert(conn, self.new_wallets)
        wallet_store.set_balances(conn, self.balances)
        wallet_store.insert_transactions(conn, self.transactions)
        profiles.mark_live(conn, self.customers, self.now)
        return [self.ledger]


def plan_live_transaction(conn: Connection, workspace: Workspace, batch: Claimed) -> LivePlan:
    body = decode_body(batch.payload)
    cid: str = body["customer_id"]
    raw = body["transaction"]
    plan = _decide(conn, workspace, batch, cid, raw)
    for u in unknown_in_transaction(raw, "transaction"):  # a field no one knows, by name
        plan.ledger.note(0, cid, u.field, oc.UNKNOWN_FIELD, u.message)
    return plan


def _decide(conn: Connection, workspace: Workspace, batch: Claimed, cid: str, raw: Any) -> LivePlan:
    now = batch.accepted_at
    plan = LivePlan(Ledger(total=1), now)
    ledger = plan.ledger
    state = profiles.migration_states(conn, workspace.id, {cid}).get(cid)
    if state is None:
        ledger.fail(0, cid, "customer_id", oc.UNKNOWN_CUSTOMER, f"customer {cid!r} does not exist")
        return plan
    uid = state.uid
    try:
        t = read_transaction(raw, "transaction")
    except EntryProblem as refused:
        p = refused.problem
        ledger.fail(0, cid, p.field, p.code, p.message)
        return plan
    wallet = wallet_store.of_uids(conn, {uid}).get(uid, {}).get(t.reward_id)
    balance = EXACT.add(wallet.balance if wallet is not None else Decimal(0), t.amount)
    if balance < 0:
        held = amount_text(wallet.balance) if wallet is not None else "0"
        msg = (
            f"reward {t.reward_id!r} holds {held}: a transaction of {amount_text(t.amount)} "
            "would take the balance below 0"
        )
        ledger.fail(0, cid, "transaction.amount", oc.INSUFFICIENT_BALANCE, msg)
        return plan
    if wallet is None:
        details = encode_entry({"reward_id": t.reward_id})
        row = (uid, t.reward_id, workspace.id, "0", amount_text(balance), details, None, now, now)
        plan.new_wallets.append(row)
    else:
        plan.balances.append((uid, t.reward_id, amount_text(balance), now))
    details = encode_entry(raw)
    plan.transactions.append(transaction_row(workspace.id, uid, t, details, batch, live=True))
    plan.customers.add(uid)
    ledger.created(0)
    return plan
