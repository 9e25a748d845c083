"""Applying a Masivo transaction migration (``POST /customers/migrate/transactions``).

A customer's migrated transactions are its wallet's history: per reward, their signed sum must
equal the balance its customer migration opened the wallet with, or the whole set is refused
(``balance_mismatch``, stating the reward, the expected balance, the sum and the delta). They
justify the balance and never change it. A customer's set comes once
(``transactions_already_migrated`` after that, until the customer is reverted).

Each transaction is read (``formats.masivo_entries``: by the API when it accepted the batch,
or here) into its reward, type, amount and times, or the problem that refuses it; here only
what needs the store is decided. It is stored as sent.

Each transaction is an element of the ledger: ``index`` counts the transactions of the
request in order (across customers), and ``field`` names ``customers[i].transactions[j]``. A
field Masivo does not document (``formats.masivo.unknown_fields``) is warned of by name at its
transaction, with the transaction's own outcome (``unknown_field``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from roster.domain import outcomes as oc
from roster.domain.batches import Claimed
from roster.domain.element_rules import Problem
from roster.domain.loyalty import (
    TransactionEntry,
    amount_text,
    reconcile,
)
from roster.domain.outcomes import Ledger
from roster.domain.workspaces import Workspace
from roster.formats import masivo, masivo_entries
from roster.formats.masivo_entries import ReadTransaction
from roster.services.book.decided_rows import DecidedRows, Emit
from roster.store import profiles
from roster.store import wallets as wallet_store


@dataclass(slots=True)
class TransactionsPlan:
    ledgers: list[Ledger] = field(default_factory=list)
    rows: DecidedRows | None = None

    def write(self, conn: Connection) -> list[Ledger]:
        assert self.rows is not None
        self.rows.write(wallet_store.streamed_transactions(conn))
        return self.ledgers


@dataclass(frozen=True, slots=True)
class _Known:
    """What the group's reads found, shared by its batches (``done`` grows as they apply)."""

    states: dict[str, profiles.MigrationState]
    wallets: dict[int, dict[str, wallet_store.Wallet]]
    done: set[int]


def plan_transactions(
    conn: Connection, workspace: Workspace, batches: list[Claimed]
) -> TransactionsPlan:
    """Decide consecutive transaction batches of one workspace, in order, with a few reads for
    all of them; each keeps its own ledger."""
    bodies = [_body(b) for b in batches]
    named = {cid for entries in bodies for cid, _, _ in entries}
    states = profiles.migration_states(conn, workspace.id, named)
    found = {state.uid for state in states.values()}
    known = _Known(
        states,
        wallet_store.of_uids(conn, found),
        wallet_store.with_transactions(conn, found, live=False),
    )
    plan = TransactionsPlan()

    def decide(emit: Emit) -> None:
        for batch, entries in zip(batches, bodies, strict=True):
            ledger = _plan_one(emit, workspace, batch, entries, known)
            _warn_unknown(ledger, entries, masivo.unknown_fields(batch.payload, "transactions"))
            plan.ledgers.append(ledger)

    plan.rows = DecidedRows.plan(conn, decide)
    return plan


def _body(batch: Claimed) -> list[masivo_entries.Entries[ReadTransaction | Problem]]:
    reads = masivo_entries.transactions_of(batch.payload, batch.prepared)
    return masivo_entries.with_entries(batch.payload, "transactions", reads)


def _warn_unknown(
    ledger: Ledger,
    entries: list[masivo_entries.Entries[ReadTransaction | Problem]],
    unknown: list[masivo.UnknownField],
) -> None:
    """Warn of each field no one knows at its transaction, with the outcome the transaction
    had; a customer's own field at its first transaction (at the customer's position in the
    body when it sends none, as a balance mismatch of an empty set is said)."""
    if not unknown:
        return
    starts = [0]
    for _, sent, _ in entries:
        starts.append(starts[-1] + len(sent))
    for u in unknown:
        cid, sent, _ = entries[u.customer]
        if not sent:
            ledger.warn(u.customer, cid, u.field, oc.UNKNOWN_FIELD, u.message)
        else:
            ledger.note(
                starts[u.customer] + (u.entry or 0), cid, u.field, oc.UNKNOWN_FIELD, u.message
            )


def _plan_one(
    emit: Emit,
    workspace: Workspace,
    batch: Claimed,
    entries: list[masivo_entries.Entries[ReadTransaction | Problem]],
    known: _Known,
) -> Ledger:
    ledger = Ledger(total=sum(len(sent) for _, sent, _ in entries))
    states, wallets, done = known.states, known.wallets, known.done
    first = 0
    for n, (cid, sent, read) in enumerate(entries):
        indexes = range(first, first + len(sent))
        first += len(sent)
        uid = states[cid].uid if cid in states else None
        refusal = _refusal(cid, uid, states, done)
        if refusal is not None:
            code, msg = refusal
            for index in indexes:
                ledger.fail(index, cid, f"customers[{n}].id", code, msg)
            continue
        assert uid is not None
        if _refused_invalid(ledger, cid, n, indexes, read):
            continue
        good = [t for t in read if type(t) is ReadTransaction]
        opening = {r: w.opening_balance for r, w in wallets.get(uid, {}).items()}
        mismatches = reconcile(opening, [(t.reward_id, t.amount) for t in good])
        if mismatches:
            msg = f"customer {cid!r}: transactions do not match the migrated balance: " + "; ".join(
                m.describe() for m in mismatches
            )
            for index in indexes:
                ledger.fail(index, cid, f"customers[{n}].transactions", oc.BALANCE_MISMATCH, msg)
            if not sent:  # no element to fail: say it anyway
                ledger.warn(n, cid, f"customers[{n}].transactions", oc.BALANCE_MISMATCH, msg)
            continue
        if good:  # an empty set stores nothing, so it leaves the customer's set to come
            done.add(uid)
        for index, t, raw in zip(indexes, good, sent, strict=True):
            text = masivo.entry_text(raw)
            emit(transaction_row(workspace.id, uid, t, text, batch, live=False))
            ledger.created(index)
    return ledger


def _refusal(
    cid: str, uid: int | None, states: dict[str, profiles.MigrationState], done: set[int]
) -> tuple[str, str] | None:
    if uid is None:
        return oc.UNKNOWN_CUSTOMER, f"customer {cid!r} does not exist: migrate the customer first"
    if not states[cid].migrated:
        msg = f"customer {cid!r} was not migrated: transactions justify a migrated balance"
        return oc.NOT_MIGRATED, msg
    if uid in done:
        msg = (
            f"customer {cid!r} already has its migrated transactions (they come in one set): "
            "revert the customer to migrate them again"
        )
        return oc.TRANSACTIONS_ALREADY_MIGRATED, msg
    return None


def _refused_invalid(
    ledger: Ledger,
    cid: str,
    n: int,
    indexes: range,
    read: list[ReadTransaction | Problem],
) -> bool:
    """Fail the whole set when one transaction is invalid (a set is applied whole or not)."""
    bad = [(i, p) for i, p in zip(indexes, read, strict=True) if type(p) is Problem]
    if not bad:
        return False
    first = bad[0][1].field
    for index, item in zip(indexes, read, strict=True):
        if type(item) is Problem:
            ledger.fail(index, cid, item.field, item.code, item.message)
        else:
            msg = f"refused with the rest of customer {cid!r}'s transactions: {first} is invalid"
            ledger.fail(index, cid, f"customers[{n}].transactions", oc.TRANSACTIONS_REFUSED, msg)
    return True


def transaction_row(
    workspace_id: str,
    uid: int,
    t: TransactionEntry | ReadTransaction,
    details: str,
    batch: Claimed,
    *,
    live: bool,
) -> tuple[Any, ...]:
    """A wallet transaction row, in ``wallets.TRANSACTION_COLUMNS`` order; ``details`` is the
    transaction's JSON text as sent."""
    return (
        workspace_id,
        uid,
        t.reward_id,
        t.type,
        amount_text(t.amount),
        live,
        t.issued_at,
        t.resolved_at,
        details,
        batch.id,
        batch.accepted_at,
    )
