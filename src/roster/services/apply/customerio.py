"""Applying Customer.io calls: identify, track, page, screen and Track API v1 people and events.

Consecutive batches of a workspace are decided together in memory, in request order, and
written with one set of bulk writes (``CallsPlan.write``), as MoEngage imports are:

* a person's attributes follow last write wins by source time: its ``_timestamp``, else the
  message's ``timestamp``, else the batch's accept time; each stale value is reported;
* ``_update: true`` never creates a person (``unknown_customer``);
* an event with an id (``messageId``, v1 ``id``) already stored in the workspace, or met
  earlier in the group, is skipped (``duplicate_ignored``), whenever it was stored;
* every stored event records ``can_trigger`` (at most 72 hours old when received);
* an event for a person Roster does not know creates the person, as Customer.io does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from roster.domain import outcomes as oc
from roster.domain.attributes import clean_attributes, merge_last_write_wins
from roster.domain.batches import Claimed
from roster.domain.campaigns import can_trigger
from roster.domain.element_rules import (
    MAX_EVENT_NAME,
    MAX_ID_LENGTH,
    Problem,
    excerpt,
    field_name,
    ledger_key,
    source_time,
    usable_id,
)
from roster.domain.identity import ANONYMOUS_ID, normalise_identifier
from roster.domain.outcomes import Ledger
from roster.domain.profiles import Profile
from roster.domain.timestamps import format_ms
from roster.domain.workspaces import Workspace
from roster.formats import customerio as cio
from roster.services.book.attribute_writes import set_attributes, write_clean
from roster.services.book.identity_merges import merge_shared
from roster.services.book.merging import Move, fold, write_moves
from roster.services.book.profile_book import ProfileBook, identifier_pairs
from roster.store import events as event_store
from roster.store import groups as groups_store
from roster.store import merges as merge_store
from roster.store import profiles, raw_sql, suppressions
from roster.store import wallets as wallet_store
from roster.store.events import EventDraft

EVENT_TYPES = frozenset({"track", "event", "page", "screen"})


#: Takes one decided event: its person and its row without the owner columns.
EmitEvent = Callable[[Profile, EventDraft], None]


@dataclass(slots=True)
class CallsPlan:
    """A group of Customer.io batches decided in memory, waiting to be written.

    On PostgreSQL the group is decided in the write transaction, each event row sent to
    ``COPY`` as soon as it is decided, so the server stores rows while the next ones are
    decided (new people get their uids when created, from the sequence). Elsewhere (SQLite) it
    is decided before, so the write lock is held for the writes alone."""

    workspace_id: str
    ledgers: list[Ledger]
    book: ProfileBook
    decide: Callable[[EmitEvent], None]
    #: The events decided before the write transaction; ``None``: decided while written.
    events: list[tuple[Profile, EventDraft]] | None
    #: The most people the group may create: the identifiers it names that no one holds.
    new_people: int = 0
    #: Merges the group's ``alias`` calls decided, written after its profiles and events.
    moves: list[Move] = field(default_factory=list)
    #: What its ``group`` calls decided: the groups whose traits changed, the memberships.
    groups: _Groups | None = None

    def write(self, conn: Connection) -> list[Ledger]:
        ws = self.workspace_id
        if self.events is None:  # uids drawn before the stream opens (no query during COPY)
            self.book.uid_source = profiles.uid_pool(conn, self.new_people)
            with event_store.streamed(conn) as send:
                self.decide(lambda p, row: send((ws, p.uid, p.uid, *row)))
            self._free_merged_ids(conn)
            self.book.flush(conn)
        else:
            self._free_merged_ids(conn)
            self.book.flush(conn)
            rows = [(ws, p.uid, p.uid, *row) for p, row in self.events]
            event_store.insert_many(conn, rows)
        if self.groups is not None:
            self.groups.write(conn, ws, self.book.now)
        write_moves(conn, ws, self.moves)
        merge_shared(conn, self.book)
        return self.ledgers

    def _free_merged_ids(self, conn: Connection) -> None:
        """An alias frees the previous id at once: a call later in the group may name it."""
        stored = [m.merged.uid for m in self.moves if m.merged.uid is not None]
        merge_store.free_customer_ids(conn, stored)


def plan_calls(
    conn: Connection, workspace: Workspace, batches: list[Claimed], *, max_string: int
) -> CallsPlan:
    """Decide consecutive Customer.io batches of one workspace, in order, reading what they
    touch in a few queries; the result is the same as applying them one after the other."""
    operations = [cio.operations_of(b.payload) for b in batches]
    ledgers = [Ledger(total=len(ops)) for ops in operations]
    return plan_operations(conn, workspace, batches, operations, ledgers, max_string=max_string)


def plan_operations(
    conn: Connection,
    workspace: Workspace,
    batches: list[Claimed],
    operations: list[list[cio.Operation]],
    ledgers: list[Ledger],
    *,
    max_string: int,
) -> CallsPlan:
    """Decide each batch's operations (already read) into its ledger: a Track API v2 batch
    gives its people and events here a run at a time (``services.apply.customerio_v2``)."""
    book = ProfileBook(workspace, max(b.accepted_at for b in batches))
    group = _Group(workspace, book, max_string)
    group.preload(conn, [op for ops in operations for op in ops])

    def decide(emit: EmitEvent) -> None:
        group.emit = emit
        for batch, ledger, ops in zip(batches, ledgers, operations, strict=True):
            book.batch_id = batch.id
            for op in ops:
                if op.unknown:
                    _warn_unknown(ledger, op)
                if type(op) is cio.Event:
                    group.event(batch, ledger, op)
                elif type(op) is cio.Person:
                    group.person(batch, ledger, op)
                elif type(op) is cio.Alias:
                    group.alias(batch, ledger, op)
                elif type(op) is cio.GroupCall:
                    group.join(batch, ledger, op)
                else:
                    assert isinstance(op, cio.Unsupported)
                    msg = f"'{op.call}' calls are accepted but not applied by Roster"
                    ledger.skip(op.index, ledger_key(op.identifier), "type", oc.NOT_SUPPORTED, msg)

    if raw_sql.streams_rows(conn):
        return CallsPlan(
            workspace.id, ledgers, book, decide, None, group.unknown, group.moves, group.groups
        )
    events: list[tuple[Profile, EventDraft]] = []
    decide(lambda p, row: events.append((p, row)))
    return CallsPlan(
        workspace.id, ledgers, book, decide, events, moves=group.moves, groups=group.groups
    )


@dataclass(slots=True)
class _Names:
    """What a group of calls names, to load in a few queries: the ids of people it may change
    (loaded whole) or only names, emails, identifiers (anonymous ids too), event ids, groups."""

    changed: set[str] = field(default_factory=set)
    named: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    pairs: set[tuple[str, str]] = field(default_factory=set)
    source_ids: set[str] = field(default_factory=set)
    group_ids: set[str] = field(default_factory=set)

    def add(self, workspace: Workspace, op: cio.Operation) -> None:
        if isinstance(op, cio.Unsupported):
            return
        if isinstance(op, cio.Alias):
            self._alias(op)
            return
        anon = _anonymous(op.anonymous_id)
        if anon is not None:
            self.pairs.add((ANONYMOUS_ID, anon))
        key = op.identifier  # ids sent as numbers come as text; anything else names no one
        if isinstance(op, cio.GroupCall):
            if (gid := _anonymous(op.group_id)) is not None:
                self.group_ids.add(gid)
            if type(key) is str:
                self.named.add(key)
            return
        if isinstance(op, cio.Person):
            if workspace.identity_resolution and isinstance(op.attributes, dict):
                self.pairs.update(identifier_pairs(workspace, op.attributes))
            if op.body_id is not None:
                self.changed.add(op.body_id)
        elif type(op.source_id) is str:
            self.source_ids.add(op.source_id)
        if type(key) is not str:
            return
        if op.by_email:
            self.emails.add(normalise_identifier("email", key))
        elif isinstance(op, cio.Person):
            self.changed.add(key)
        else:
            self.named.add(key)

    def _alias(self, op: cio.Alias) -> None:
        previous = _anonymous(op.previous_id)  # a person's id, or an anonymous one
        if previous is not None:
            self.changed.add(previous)  # loaded whole: its attributes move
            self.pairs.add((ANONYMOUS_ID, previous))
        if type(op.identifier) is str:
            self.changed.add(op.identifier)


@dataclass(slots=True)
class _Groups:
    """The groups a group of calls names, as loaded and as decided."""

    found: dict[str, groups_store.Group]
    changed: set[str] = field(default_factory=set)
    members: list[tuple[str, Profile]] = field(default_factory=list)

    def write(self, conn: Connection, workspace_id: str, now: int) -> None:
        groups_store.save(conn, workspace_id, [self.found[g] for g in sorted(self.changed)], now)
        joined = {(gid, p.uid) for gid, p in self.members if p.uid is not None}
        groups_store.add_members(conn, workspace_id, joined, now)


@dataclass(slots=True)
class _Group:
    workspace: Workspace
    book: ProfileBook
    max_string: int
    #: Normalised email -> the person holding it (Track API v1 paths that are emails).
    by_email: dict[str, Profile] = field(default_factory=dict)
    #: Event ids stored before: ``id -> batch that stored it``; and met in this group.
    stored_ids: dict[str, str] = field(default_factory=dict)
    #: How many identifiers (ids, emails) the group names that no one holds yet.
    unknown: int = 0
    #: Where decided events go (set by the plan's ``decide``).
    emit: EmitEvent = field(default=lambda p, row: None)
    #: The identifiers (ids, normalised emails) the group names that are suppressed.
    suppressed: set[str] = field(default_factory=set)
    #: Merges decided for ``alias`` calls, in order; and the uids holding a wallet.
    moves: list[Move] = field(default_factory=list)
    wallets: set[int] = field(default_factory=set)
    #: The groups ``group`` calls name (``None``: the calls name none).
    groups: _Groups | None = None

    def preload(self, conn: Connection, ops: list[cio.Operation]) -> None:
        names = _Names()
        for op in ops:
            names.add(self.workspace, op)
        changed, named, emails, pairs = names.changed, names.named, names.emails, names.pairs
        source_ids, group_ids = names.source_ids, names.group_ids
        ws = self.workspace
        holders = profiles.email_holders(conn, ws.id, emails, indexed="email" in ws.identifiers)
        self.book.preload(conn, changed, named, pairs, uids=[uid for uid, _ in holders.values()])
        for email, (uid, _) in holders.items():
            if (profile := self.book.by_uid.get(uid)) is not None:
                self.by_email[email] = profile
        anonymous = {v for name, v in pairs if name == ANONYMOUS_ID}
        self.unknown = (
            len(emails - self.by_email.keys())
            + len((changed | named) - self.book.by_id.keys())
            + sum(1 for v in anonymous if self._anonymous(v) is None)
        )
        found = event_store.holders_of_source_ids(conn, ws.id, source_ids)
        self.stored_ids = {sid: batch_id for sid, (_, batch_id) in found.items()}
        self.suppressed = suppressions.among_suppressed(conn, ws.id, changed | named | emails)
        if group_ids:
            self.groups = _Groups(groups_store.load(conn, ws.id, group_ids))
        if any(isinstance(op, cio.Alias) for op in ops):
            held = {p.uid for p in self.book.by_uid.values() if p.uid is not None}
            held |= {p.uid for p in self.book.by_id.values() if p.uid is not None}
            self.wallets = set(wallet_store.of_uids(conn, held))

    def kept_out(self, ledger: Ledger, index: int, key: str, by_email: bool) -> bool:
        """Whether the person is suppressed (the call skipped, said in the ledger)."""
        if (normalise_identifier("email", key) if by_email else key) not in self.suppressed:
            return False
        msg = f"{key!r} is suppressed: Customer.io calls naming it are skipped until unsuppressed"
        ledger.skip(index, key, "identifier", oc.SUPPRESSED, msg)
        return True

    def person(self, batch: Claimed, ledger: Ledger, op: cio.Person) -> None:
        anon = _anonymous(op.anonymous_id)
        if op.identifier is None and anon is not None:
            key: str | None = anon  # an anonymous profile's traits
        else:
            key = self._identifier(ledger, op.index, op.identifier, op.fields.identifier)
        if key is None or (self.suppressed and self.kept_out(ledger, op.index, key, op.by_email)):
            return
        source_ms = source_time(op.timestamp, batch.accepted_at, op.timestamp_field)
        if isinstance(source_ms, Problem):
            ledger.fail(op.index, key, source_ms.field, source_ms.code, source_ms.message)
            return
        raw = op.attributes
        prefix = op.fields.prefix
        if not isinstance(raw, dict):
            where = op.fields.attributes
            msg = f"'{where}' must be an object of attributes, got {type(raw).__name__}"
            ledger.fail(op.index, key, where, oc.INVALID_FIELD, msg)
            return
        found = self._anonymous(key) if key is anon and op.identifier is None else None
        if found is None and op.identifier is not None:
            found = self._find(key, op.by_email)
        body_id = op.body_id
        if body_id is not None:
            fits, found = self._with_body_id(ledger, op, key, body_id, found)
            if not fits:
                return
        if found is None and op.update_only:
            msg = f"person {key!r} does not exist and _update is true: nothing created"
            ledger.skip(op.index, key, "_update", oc.UNKNOWN_CUSTOMER, msg)
            return
        new = found is None
        if found is None and op.identifier is None:
            found = self._create_anonymous(batch, ledger, op.index, key, source_ms)
        elif found is None:
            found = self._create(batch, ledger, op.index, key, op.by_email, body_id, source_ms)
        elif op.by_email and "email" not in raw and not _holds_email(found, key):
            raw = {**raw, "email": key}  # found by the body's id: it takes the path's email
        changed = set_attributes(
            self.book,
            ledger,
            op.index,
            key,
            found,
            raw,
            source_ms,
            prefix=prefix,
            max_string=self.max_string,
            objects=True,  # Customer.io keeps nested traits and attributes
        )
        self._index_email(found)
        if anon is not None and op.identifier is not None:
            changed = (
                self._link_anonymous(batch, ledger, op.index, found, anon, source_ms) or changed
            )
        if new:
            ledger.created(op.index)
        elif changed:
            ledger.updated(op.index)
        else:
            ledger.unchanged(op.index)

    def event(self, batch: Claimed, ledger: Ledger, op: cio.Event) -> None:
        """One event, checked in the order its fields are named in the docs. The common shape
        (a string id, name and message id) takes a few direct checks; anything else the
        general ones, which say what is wrong."""
        index = op.index
        key = op.identifier
        anon = _anonymous(op.anonymous_id) if key is None else None
        if anon is not None:
            key = anon  # an anonymous profile's event
        elif type(key) is not str or not 0 < len(key) <= MAX_ID_LENGTH or not key.strip():
            key = self._identifier(ledger, index, key, op.fields.identifier)
            if key is None:
                return
        if self.suppressed and self.kept_out(ledger, index, key, op.by_email):
            return
        if op.call not in EVENT_TYPES:
            msg = f"'type' must be event, page or screen, got {excerpt(op.call)}"
            ledger.fail(index, key, "type", oc.INVALID_FIELD, msg)
            return
        name = op.name.strip() if type(op.name) is str else None
        if not name or len(name) > MAX_EVENT_NAME:
            name_field = op.fields.track_name if op.call == "track" else "name"
            msg = (
                f"'{name_field}' must be a non-empty string of at most {MAX_EVENT_NAME} characters"
            )
            ledger.fail(index, key, name_field, oc.MISSING_FIELD, msg)
            return
        properties = op.properties
        if properties[0] != "{":
            if properties != "null":
                where = op.fields.data
                msg = f"'{where}' must be an object (or null), got {properties[:40]}"
                ledger.fail(index, key, where, oc.INVALID_FIELD, msg)
                return
            properties = "{}"
        received = batch.accepted_at
        occurred = source_time(op.timestamp, received, "timestamp")
        if isinstance(occurred, Problem):
            ledger.fail(index, key, occurred.field, occurred.code, occurred.message)
            return
        source_id = op.source_id  # a number sent comes as text
        if type(source_id) is not str or not 0 < len(source_id) <= MAX_ID_LENGTH:
            if source_id not in (None, ""):  # an empty id is no id
                id_field = op.fields.event_id
                msg = f"'{id_field}' must be a string of 1-{MAX_ID_LENGTH} characters"
                ledger.fail(index, key, id_field, oc.INVALID_FIELD, msg)
                return
            source_id = None
        stored_ids = self.stored_ids
        if source_id is not None:
            if (first := stored_ids.get(source_id)) is not None:
                id_field = op.fields.event_id
                msg = f"an event with {id_field} {excerpt(source_id)} was stored by batch {first}"
                ledger.skip(index, key, id_field, oc.DUPLICATE_IGNORED, msg)
                return
            stored_ids[source_id] = batch.id
        profile = self._event_profile(batch, ledger, index, key, op.by_email, anon, received)
        self.emit(
            profile,
            EventDraft(  # by position: keywords cost 0.5 µs more a row (EventRow)
                name,
                occurred,  # occurred_at
                None,  # local_time
                None,  # tz_offset
                None,  # platform
                None,  # app_version
                None,  # device_id
                properties,  # attributes
                received,  # received_at
                batch.id,
                can_trigger(occurred, received, migrated=False),
                False,  # migrated
                source_id,
                None,  # value
            ),
        )
        ledger.created(index)

    def _identifier(self, ledger: Ledger, index: int, value: Any, where: str) -> str | None:
        """The person's id or email as text, or ``None`` after failing the element."""
        if value is None:
            msg = f"'{where}' (or an anonymous id) is required"
            ledger.fail(index, None, where, oc.MISSING_FIELD, msg)
            return None
        if type(value) is not str or not usable_id(value):  # a number sent comes as text
            msg = f"'{where}' must be a string or integer of 1-{MAX_ID_LENGTH} characters"
            ledger.fail(index, ledger_key(value), where, oc.INVALID_CUSTOMER_ID, msg)
            return None
        return value

    def alias(self, batch: Claimed, ledger: Ledger, op: cio.Alias) -> None:
        """``previousId``'s profile merged into ``userId``'s (created if no one holds it)."""
        key = self._identifier(ledger, op.index, op.identifier, "userId")
        if key is None or (self.suppressed and self.kept_out(ledger, op.index, key, False)):
            return
        previous_id = _anonymous(op.previous_id)
        if previous_id is None:
            msg = f"'previousId' must be a string or integer of 1-{MAX_ID_LENGTH} characters"
            ledger.fail(op.index, key, "previousId", oc.MISSING_FIELD, msg)
            return
        previous = self.book.by_id.get(previous_id) or self._anonymous(previous_id)
        if previous is None:
            msg = f"no person or anonymous profile has id {previous_id!r}: nothing to merge"
            ledger.skip(op.index, key, "previousId", oc.UNKNOWN_CUSTOMER, msg)
            return
        person = self.book.by_id.get(key)
        if person is previous:
            ledger.unchanged(op.index)
            return
        if previous.uid in self.wallets:
            msg = f"{previous_id!r} holds a wallet: merging would lose its balance"
            ledger.fail(op.index, key, "previousId", oc.HAS_WALLET, msg)
            return
        at = batch.accepted_at
        person = person or self._create(batch, ledger, op.index, key, False, None, at)
        self._merge(previous, person, Move(previous, person, "alias", batch.id, at))
        ledger.updated(op.index)

    def _merge(self, previous: Profile, person: Profile, move: Move) -> None:
        """Fold ``previous`` into ``person`` in the book: later calls of the group naming the
        previous id (or its anonymous id) find the person."""
        book = self.book
        cid = previous.customer_id
        fold(move)
        book.mark_dirty(person)
        if cid is not None and book.by_id.get(cid) is previous:
            del book.by_id[cid]
        for pair in book.pairs_of.get(id(previous), []):
            if book.by_identifier.get(pair) is previous:
                book.by_identifier[pair] = person
        book.index_identifiers(person)
        self.moves.append(move)

    def join(self, batch: Claimed, ledger: Ledger, op: cio.GroupCall) -> None:
        """A ``group`` call: the group's traits (last write wins per trait, by source time)
        and the person's membership; the person is created if no one holds it."""
        index = op.index
        anon = _anonymous(op.anonymous_id) if op.identifier is None else None
        key = anon or self._identifier(ledger, index, op.identifier, "userId")
        if key is None or (self.suppressed and self.kept_out(ledger, index, key, False)):
            return
        gid = _anonymous(op.group_id)
        if gid is None or self.groups is None:
            msg = f"'groupId' must be a string or integer of 1-{MAX_ID_LENGTH} characters"
            ledger.fail(index, key, "groupId", oc.MISSING_FIELD, msg)
            return
        traits = {} if op.traits is None else op.traits
        if not isinstance(traits, dict):
            msg = f"'traits' must be an object, got {type(traits).__name__}"
            ledger.fail(index, key, "traits", oc.INVALID_FIELD, msg)
            return
        at = source_time(op.timestamp, batch.accepted_at, "timestamp")
        if isinstance(at, Problem):
            ledger.fail(index, key, at.field, at.code, at.message)
            return
        clean = clean_attributes(traits, max_string=self.max_string, prefix="traits", objects=True)
        for p in clean.problems:
            ledger.warn(index, key, p.field, p.code, p.message)
        known = self.groups.found.get(gid)
        group = known or groups_store.Group(gid, {}, {}, False)
        result = merge_last_write_wins(group.traits, group.times, clean.values, at)
        for name, stored in result.stale:
            msg = f"an older value than the group's, written at {format_ms(stored)}: skipped"
            ledger.warn(index, key, f"traits.{name}", oc.STALE_ATTRIBUTE_SKIPPED, msg)
        self.groups.found[gid] = group
        if known is None or result.changed:
            self.groups.changed.add(gid)
        profile = self._event_profile(batch, ledger, index, key, False, anon, batch.accepted_at)
        self.groups.members.append((gid, profile))
        if known is None:
            ledger.created(index)
        elif result.changed:
            ledger.updated(index)
        else:
            ledger.unchanged(index)

    def _event_profile(
        self,
        batch: Claimed,
        ledger: Ledger,
        index: int,
        key: str,
        by_email: bool,
        anon: str | None,
        at: int,
    ) -> Profile:
        """The profile an event is stored on: the person, or the anonymous profile; created
        if no one holds it (Customer.io creates the person an event names)."""
        if anon is not None:
            return self._anonymous(anon) or self._create_anonymous(batch, ledger, index, anon, at)
        profile = self._find(key, True) if by_email else self.book.by_id.get(key)
        return profile or self._create(batch, ledger, index, key, by_email, None, at)

    def _anonymous(self, anon: str) -> Profile | None:
        """The profile holding this anonymous id (an anonymous one, or the person it was
        merged into)."""
        return self.book.find({ANONYMOUS_ID: anon})

    def _create_anonymous(
        self, batch: Claimed, ledger: Ledger, index: int, anon: str, at: int
    ) -> Profile:
        """A profile with no customer id, found again by its anonymous id."""
        profile = self.book.create(None, batch)
        write_clean(self.book, ledger, index, anon, profile, {ANONYMOUS_ID: anon}, at, prefix="")
        return profile

    def _link_anonymous(
        self, batch: Claimed, ledger: Ledger, index: int, person: Profile, anon: str, at: int
    ) -> bool:
        """An identify naming both ids: the person holds the anonymous id from now on, and the
        anonymous profile (if another) is merged with it after the writes (the identity rule,
        journaled: the older profile is kept, and takes the customer id if it has none)."""
        holder = self._anonymous(anon)
        changed = write_clean(
            self.book, ledger, index, anon, person, {ANONYMOUS_ID: anon}, at, prefix=""
        )
        if holder is not None and holder is not person:
            self.book.shared.append((holder, person, batch.id, "anonymous"))
            return True
        return changed

    def _find(self, key: str, by_email: bool) -> Profile | None:
        if by_email:
            return self.by_email.get(normalise_identifier("email", key))
        return self.book.get(key)

    def _with_body_id(
        self, ledger: Ledger, op: cio.Person, key: str, body_id: str, found: Profile | None
    ) -> tuple[bool, Profile | None]:
        """A v1 body's ``id`` must be the id of the person the path names. A path email no
        one holds names the person with that id (who gets the email), or a new person."""
        if not op.by_email:
            if body_id == key:
                return True, found
            holder: str | None = key
        elif found is None:
            return True, self.book.get(body_id)
        elif found.customer_id == body_id:
            return True, found
        else:
            holder = found.customer_id
        msg = (
            f"the body's id {body_id!r} is not the id of the person the path names "
            f"({holder!r}); Roster does not change a person's id"
        )
        ledger.fail(op.index, key, "id", oc.IDENTIFIER_CONFLICT, msg)
        return False, None

    def _create(
        self,
        batch: Claimed,
        ledger: Ledger,
        index: int,
        key: str,
        by_email: bool,
        body_id: str | None,
        at: int,
    ) -> Profile:
        """A new person; found by email, it holds that email (written at ``at``, the source
        time of the call) and the body's id if given."""
        if not by_email:
            return self.book.create(key, batch)
        profile = self.book.create(body_id, batch)
        set_attributes(
            self.book,
            ledger,
            index,
            key,
            profile,
            {"email": key},
            at,
            prefix="identifier",
            max_string=self.max_string,
        )
        self.by_email[normalise_identifier("email", key)] = profile
        return profile

    def _index_email(self, profile: Profile) -> None:
        email = profile.attributes.get("email")
        if isinstance(email, str) and email.strip():
            self.by_email.setdefault(normalise_identifier("email", email), profile)


def _warn_unknown(ledger: Ledger, op: cio.Operation) -> None:
    for sent in op.unknown:
        name = field_name(sent)
        msg = (
            f"'{name}' is not a field of a Data Pipelines call: ignored (a typo? "
            "docs/compatibility.md lists the fields)"
        )
        ledger.warn(op.index, ledger_key(op.identifier), name, oc.UNKNOWN_FIELD, msg)


def _anonymous(value: Any) -> str | None:
    """An ``anonymousId`` as a usable id (a number sent comes as text), else ``None``."""
    return value if type(value) is str and usable_id(value) else None


def _holds_email(profile: Profile, email: str) -> bool:
    held = profile.attributes.get("email")
    wanted = normalise_identifier("email", email)
    return isinstance(held, str) and normalise_identifier("email", held) == wanted
