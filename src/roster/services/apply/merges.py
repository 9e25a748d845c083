"""Applying a merge request (MoEngage Merge Users, Customer.io merge_customers), pair by pair.

Every pair gets an outcome. A failing pair is skipped with its reason and the others proceed
(the vendors' rule): a customer that does not exist (``unknown_customer``; if its id was
merged away earlier, ``already_merged`` with where it went), the same customer twice
(``same_customer``), a merged customer that holds a wallet (``has_wallet``: Roster never merges
balances), or, for MoEngage, a workspace with identity resolution on
(``identity_resolution_on``). Pairs are decided in request order, in memory, so a later pair
sees an earlier one (a chain A→B, B→C works; A→B, A→C fails its second pair).

The request is a batch of the workspace's queue, so a merge never races an import of the same
customers: it is applied between the batches accepted before it and those after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from roster.domain import outcomes as oc
from roster.domain.batches import Claimed
from roster.domain.element_rules import MAX_ID_LENGTH, excerpt, usable_id
from roster.domain.identity import normalise_identifier
from roster.domain.merges import Pair, Ref, Rule
from roster.domain.outcomes import Ledger
from roster.domain.profiles import Profile
from roster.domain.timestamps import format_ms
from roster.domain.workspaces import Workspace
from roster.services.book.merging import Move, fold, write_moves
from roster.services.book.profile_book import ProfileBook
from roster.store import merges as merge_store
from roster.store import profiles
from roster.store import wallets as wallet_store


@dataclass(slots=True)
class MergePlan:
    workspace_id: str
    ledger: Ledger
    book: ProfileBook
    moves: list[Move] = field(default_factory=list)

    def write(self, conn: Connection) -> list[Ledger]:
        self.book.flush(conn)  # the retained profiles' attributes and identifiers
        write_moves(conn, self.workspace_id, self.moves)
        return [self.ledger]


@dataclass(slots=True)
class _Found:
    """The customers the request names, as stored before it."""

    by_email: dict[str, Profile]
    wallets: set[int]
    merged_before: dict[str, dict[str, Any]]


def plan_merges(
    conn: Connection, workspace: Workspace, batch: Claimed, rule: Rule, pairs: list[Pair]
) -> MergePlan:
    """Decide the ``pairs`` of a merge request by the vendor's ``rule``, in request order."""
    book = ProfileBook(workspace, batch.accepted_at)
    plan = MergePlan(workspace.id, Ledger(total=len(pairs)), book)
    if rule == "moengage" and workspace.identity_resolution:
        msg = "the workspace has identity resolution on: Merge Users does not apply there"
        for pair in pairs:
            plan.ledger.fail(pair.index, _key(pair.merged), None, oc.IDENTITY_RESOLUTION_ON, msg)
        return plan
    found = _load(conn, workspace, book, pairs)
    gone: dict[int, Move] = {}  # id(profile) -> the move that merged it away in this request
    for pair in pairs:
        merged = _resolve(plan, found, pair, pair.merged, gone)
        if merged is None:
            continue
        retained = _resolve(plan, found, pair, pair.retained, gone)
        if retained is None:
            continue
        key = _key(pair.merged)
        if merged is retained:
            msg = f"{pair.merged.field} and {pair.retained.field} name the same customer"
            plan.ledger.fail(pair.index, key, pair.retained.field, oc.SAME_CUSTOMER, msg)
            continue
        if merged.uid in found.wallets:
            msg = (
                f"customer {key!r} holds a wallet: merging would lose its balance, so the "
                "pair is not merged (move its balance first)"
            )
            plan.ledger.fail(pair.index, key, pair.merged.field, oc.HAS_WALLET, msg)
            continue
        move = Move(merged, retained, rule, batch.id, batch.accepted_at)
        fold(move)
        book.mark_dirty(retained)
        gone[id(merged)] = move
        plan.moves.append(move)
        plan.ledger.updated(pair.index)  # the retained customer holds the merged one now
    return plan


def _key(ref: Ref) -> str:
    return str(ref.value)[:MAX_ID_LENGTH]


def _load(conn: Connection, workspace: Workspace, book: ProfileBook, pairs: list[Pair]) -> _Found:
    refs = [r for p in pairs for r in (p.merged, p.retained)]
    ids = {r.value for r in refs if r.by == "id" and usable_id(r.value)}
    emails = {normalise_identifier("email", r.value) for r in refs if r.by == "email"}
    indexed = "email" in workspace.identifiers
    holders = profiles.email_holders(conn, workspace.id, emails, indexed=indexed)
    book.preload(conn, ids, (), (), uids={uid for uid, _ in holders.values()})
    by_email = {e: book.by_uid[uid] for e, (uid, _) in holders.items() if uid in book.by_uid}
    uids = {p.uid for p in book.by_uid.values() if p.uid is not None}
    wallets = set(wallet_store.of_uids(conn, uids))
    missing = ids - set(book.by_id)
    merged_before = merge_store.merged_customer_ids(conn, workspace.id, missing)
    return _Found(by_email, wallets, merged_before)


def _resolve(
    plan: MergePlan, found: _Found, pair: Pair, ref: Ref, gone: dict[int, Move]
) -> Profile | None:
    """The live customer ``ref`` names, or ``None`` after skipping the pair with the reason."""
    ledger, key = plan.ledger, _key(pair.merged)
    if ref.by == "id" and not usable_id(ref.value):
        msg = f"'{ref.field}' must be 1-{MAX_ID_LENGTH} characters and not blank"
        ledger.fail(pair.index, key, ref.field, oc.INVALID_CUSTOMER_ID, msg)
        return None
    profile = (
        plan.book.get(ref.value)
        if ref.by == "id"
        else found.by_email.get(normalise_identifier("email", ref.value))
    )
    move = gone.get(id(profile)) if profile is not None else None
    if move is not None:
        into = move.retained_customer_id or f"uid {move.retained.uid}"
        msg = f"customer {ref.value!r} was merged into {into!r} earlier in this request"
        ledger.skip(pair.index, key, ref.field, oc.ALREADY_MERGED, msg)
        return None
    if profile is not None:
        return profile
    before = found.merged_before.get(ref.value) if ref.by == "id" else None
    if before is not None:
        into = before["into_customer_id"] or f"uid {before['into_uid']}"
        msg = (
            f"customer {ref.value!r} was merged into {into!r} by batch {before['batch_id']} "
            f"at {format_ms(before['at'])}; its id names no customer since"
        )
        ledger.skip(pair.index, key, ref.field, oc.ALREADY_MERGED, msg)
        return None
    if ref.by == "id":
        msg = f"customer {ref.value!r} does not exist"
    else:
        msg = f"no customer holds the email {excerpt(ref.value)}"
    ledger.skip(pair.index, key, ref.field, oc.UNKNOWN_CUSTOMER, msg)
    return None
