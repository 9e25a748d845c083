"""Applying a Masivo customer migration (``POST /customers/migrate``): profiles and wallets.

A customer is created migrated, or updated if it is still migrated-only (no other surface has
changed it since). Its profile fields become attributes (last write wins at the batch's accept
time); its ``balance[]`` sets the opening balance of each reward's wallet; its ``metrics`` are
kept as sent until its events are migrated. ``email`` is unique per workspace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

from roster.domain import outcomes as oc
from roster.domain.attributes import clean_attributes, merge_last_write_wins
from roster.domain.batches import Claimed
from roster.domain.element_rules import EntryProblem, excerpt, field_name
from roster.domain.identity import normalise_identifier
from roster.domain.loyalty import amount_text, read_balance
from roster.domain.outcomes import Ledger
from roster.domain.profiles import Profile
from roster.domain.workspaces import Workspace
from roster.formats.masivo import decode_body, encode_entry, plain_value
from roster.services.book.profile_book import ProfileBook
from roster.store import profiles
from roster.store import wallets as wallet_store
from roster.store.profiles import MigrationState

#: The customer fields of the vendor's schema that become profile attributes; other fields
#: are ignored (``balance`` and ``metrics`` have their own homes).
PROFILE_FIELDS = (
    "name",
    "email",
    "gender",
    "dob",
    "registration_date",
    "document_type",
    "document_number",
    "country",
)
#: Every field of Masivo's customer schema; another is ignored and warned of (``unknown_field``).
CUSTOMER_FIELDS = frozenset({"id", *PROFILE_FIELDS, "balance", "metrics"})


@dataclass(slots=True)
class Migrated:
    """What one customer's migration leaves, once its profile has a uid."""

    profile: Profile
    metrics: str | None
    #: The wallets to set (``reward -> (amount, entry)``); ``None``: keep the stored ones.
    balance: dict[str, tuple[Decimal, dict[str, Any]]] | None
    #: The last batch of the group that migrated it.
    batch: Claimed


@dataclass(slots=True)
class CustomersPlan:
    workspace_id: str
    book: ProfileBook
    ledgers: list[Ledger] = field(default_factory=list)
    migrated: dict[str, Migrated] = field(default_factory=dict)
    stored_wallets: dict[int, dict[str, wallet_store.Wallet]] = field(default_factory=dict)

    def write(self, conn: Connection) -> list[Ledger]:
        existing = {id(m.profile) for m in self.migrated.values() if m.profile.uid is not None}
        for m in self.migrated.values():
            if m.profile.uid is None:  # created by this group: inserted migrated
                m.profile.migrated_batch, m.profile.metrics = m.batch.id, m.metrics
        self.book.flush(conn)
        marks: list[tuple[int, str, str | None]] = []
        replaced: list[int] = []
        rows: list[tuple[Any, ...]] = []
        for m in self.migrated.values():
            uid = m.profile.uid
            assert uid is not None
            stored_before = id(m.profile) in existing
            if stored_before:
                marks.append((uid, m.batch.id, m.metrics))
            if m.balance is None:
                continue
            now = m.batch.accepted_at
            if stored_before:  # a new customer has no wallets to replace
                replaced.append(uid)
            stored = self.stored_wallets.get(uid, {})
            for reward, (amount, entry) in m.balance.items():
                created = stored[reward].created_at if reward in stored else now
                text = amount_text(amount)
                details = encode_entry(entry)
                rows.append(
                    (
                        uid,
                        reward,
                        self.workspace_id,
                        text,
                        text,
                        details,
                        m.batch.id,
                        created,
                        now,
                    )
                )
        profiles.mark_migrated(conn, marks)
        wallet_store.replace_for(conn, replaced, rows)
        return self.ledgers


@dataclass(frozen=True, slots=True)
class _Known:
    """What the group's reads found, shared by its batches."""

    states: dict[str, MigrationState]
    justified: set[int]
    holders: dict[str, tuple[int, str | None]]
    #: email -> the customer id that took it earlier in this group
    taken: dict[str, str]


def plan_customers(
    conn: Connection, workspace: Workspace, batches: list[Claimed], *, max_string: int
) -> CustomersPlan:
    """Decide consecutive customer migration batches of one workspace, in order, with a few
    reads for all of them; each keeps its own ledger."""
    bodies: list[list[dict[str, Any]]] = [decode_body(b.payload)["customers"] for b in batches]
    book = ProfileBook(workspace, max(b.accepted_at for b in batches), live=False)
    book.preload(conn, {e["id"] for entries in bodies for e in entries}, (), ())
    uids = {p.uid for p in book.by_id.values() if p.uid is not None}
    plan = CustomersPlan(workspace.id, book)
    plan.stored_wallets = wallet_store.of_uids(conn, uids)
    emails = {e for entries in bodies for entry in entries if (e := _email(entry)) is not None}
    known = _Known(
        profiles.migration_states(conn, workspace.id, book.by_id.keys()),
        wallet_store.with_transactions(conn, uids, live=False),
        profiles.email_holders(
            conn, workspace.id, emails, indexed="email" in workspace.identifiers
        ),
        {},
    )
    for batch, entries in zip(batches, bodies, strict=True):
        plan.ledgers.append(_plan_one(plan, batch, entries, known, max_string))
    return plan


def _plan_one(
    plan: CustomersPlan,
    batch: Claimed,
    entries: list[dict[str, Any]],
    known: _Known,
    max_string: int,
) -> Ledger:
    ledger = Ledger(total=len(entries))
    book = plan.book
    states, justified, holders, in_batch = known.states, known.justified, known.holders, known.taken
    for index, entry in enumerate(entries):
        cid: str = entry["id"]
        where = f"customers[{index}]"
        if not CUSTOMER_FIELDS.issuperset(entry):
            _warn_unknown(ledger, index, cid, where, entry)
        profile = book.get(cid)
        state = states.get(cid)  # stored customers only: none for one created in this group
        if state is not None and (not state.migrated or state.live_since is not None):
            ledger.skip(index, cid, f"{where}.id", oc.NOT_MIGRATED_ONLY, _not_migrated_only(state))
            continue
        try:
            balance = (
                None
                if entry.get("balance") is None
                else read_balance(entry["balance"], f"{where}.balance")
            )
        except EntryProblem as refused:
            p = refused.problem
            ledger.fail(index, cid, p.field, p.code, p.message)
            continue
        email = _email(entry)
        if email is not None:
            holder = holders.get(email)
            taken_by = in_batch.get(email)
            if taken_by is None and holder is not None:
                taken_by = holder[1] if holder[1] is not None else f"uid {holder[0]}"
            if taken_by is not None and taken_by != cid:
                msg = (
                    f"email {excerpt(entry['email'])} already belongs to customer "
                    f"{excerpt(taken_by)}"
                )
                ledger.fail(index, cid, f"{where}.email", oc.EMAIL_TAKEN, msg)
                continue
            in_batch[email] = cid
        if profile is not None:  # an email it gives up is free for the customers after it
            released = _email(profile.attributes)
            if released is not None and released != email:
                if in_batch.get(released) == cid:
                    del in_batch[released]
                if (holders.get(released) or (None, None))[1] == cid:
                    del holders[released]
        new = profile is None
        profile = profile or book.create(cid, batch)
        values = _profile_fields(ledger, index, cid, where, entry, max_string)
        merged = merge_last_write_wins(
            profile.attributes, profile.times, values, batch.accepted_at, profile.sources, batch.id
        )
        if merged.changed:
            book.mark_dirty(profile)
            book.index_identifiers(profile)
        before = plan.migrated.get(cid)
        kept = before.metrics if before is not None else (state.metrics if state else None)
        metrics = _metrics(ledger, index, cid, where, entry, state, before)
        stored = plan.stored_wallets.get(profile.uid) if profile.uid is not None else None
        if balance is not None and profile.uid in justified:
            _warn_if_kept(
                ledger, index, cid, where, balance, plan.stored_wallets.get(profile.uid, {})
            )
            balance = None
        elif balance is None and before is not None:
            balance = before.balance
        plan.migrated[cid] = Migrated(profile, metrics, balance, batch)
        changed = merged.changed or metrics != kept or _balance_changes(balance, before, stored)
        _effect(ledger, index, new=new, changed=changed)
    return ledger


def _profile_fields(
    ledger: Ledger, index: int, cid: str, where: str, entry: dict[str, Any], max_string: int
) -> dict[str, Any]:
    """The customer's profile fields as attributes; a value that cannot be one is warned of
    and left out. The fields' names are all allowed, so strings of an allowed length (nearly
    every field sent) are kept as they are; anything else takes the attribute rules."""
    sent = {k: entry[k] for k in PROFILE_FIELDS if k in entry}
    if all(type(v) is str and len(v) <= max_string for v in sent.values()):
        return sent
    raw = {k: plain_value(v) for k, v in sent.items()}
    clean = clean_attributes(raw, max_string=max_string, prefix=where)
    for p in clean.problems:
        ledger.warn(index, cid, p.field, p.code, p.message)
    return clean.values


def _warn_unknown(ledger: Ledger, index: int, cid: str, where: str, entry: dict[str, Any]) -> None:
    for name in map(field_name, sorted(set(entry) - CUSTOMER_FIELDS)):
        msg = (
            f"'{name}' is not a field of Masivo's customer: ignored (a typo? the fields are "
            + ", ".join(sorted(CUSTOMER_FIELDS))
            + ")"
        )
        ledger.warn(index, cid, f"{where}.{name}", oc.UNKNOWN_FIELD, msg)


def _effect(ledger: Ledger, index: int, *, new: bool, changed: bool) -> None:
    if new:
        ledger.created(index)
    elif changed:
        ledger.updated(index)
    else:
        ledger.unchanged(index)


def _balance_changes(
    balance: dict[str, tuple[Decimal, dict[str, Any]]] | None,
    before: Migrated | None,
    stored: dict[str, wallet_store.Wallet] | None,
) -> bool:
    """Whether the balance to keep differs from the one kept so far (in this group, else the
    stored wallets' opening balances)."""
    if balance is None:
        return False
    amounts = {r: a for r, (a, _) in balance.items()}
    if before is not None:
        return before.balance is None or amounts != {r: a for r, (a, _) in before.balance.items()}
    return amounts != {r: w.opening_balance for r, w in (stored or {}).items()}


def _email(entry: dict[str, Any]) -> str | None:
    value = entry.get("email")
    if isinstance(value, str) and value.strip():
        return normalise_identifier("email", value)
    return None


def _not_migrated_only(state: MigrationState) -> str:
    if not state.migrated:
        return (
            "this customer was not created by a migration: a migration never overwrites a "
            "live customer"
        )
    return (
        "this customer has been changed by another surface since it was migrated (it is no "
        "longer migrated-only): a migration never overwrites live data"
    )


def _metrics(
    ledger: Ledger,
    index: int,
    cid: str,
    where: str,
    entry: dict[str, Any],
    state: MigrationState | None,
    before: Migrated | None,
) -> str | None:
    """The metrics to keep: those sent, else those kept so far (``None`` once events came)."""
    kept = before.metrics if before is not None else (state.metrics if state else None)
    sent = entry.get("metrics")
    if sent is None:
        return kept
    if not isinstance(sent, dict):
        ledger.warn(
            index, cid, f"{where}.metrics", oc.INVALID_FIELD, "'metrics' must be an object; ignored"
        )
        return kept
    if state is not None and state.events_migrated:
        msg = "this customer's events are migrated: its metrics are computed from them"
        ledger.warn(index, cid, f"{where}.metrics", oc.METRICS_IGNORED, msg)
        return None
    return encode_entry(sent)


def _warn_if_kept(
    ledger: Ledger,
    index: int,
    cid: str,
    where: str,
    balance: dict[str, tuple[Decimal, dict[str, Any]]],
    stored: dict[str, wallet_store.Wallet],
) -> None:
    """The customer's transactions are migrated: they justify the stored balance, which stays."""
    if {r: a for r, (a, _) in balance.items()} != {r: w.opening_balance for r, w in stored.items()}:
        msg = (
            "this customer's transactions are already migrated and justify its stored balance, "
            "which is kept: revert the customer to migrate another balance"
        )
        ledger.warn(index, cid, f"{where}.balance", oc.BALANCE_KEPT, msg)
