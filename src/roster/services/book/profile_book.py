"""The customers one batch touches, loaded in one query and written back in a few.

A batch finds customers by ``customer_id`` or (with identity resolution) by identifier
(``preload``, in a read transaction), creates the ones it needs, changes their attributes in
memory, and ``flush`` writes every new and changed profile and its identifier index in
set-based statements (in the write transaction).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from roster.domain import identity
from roster.domain.batches import Claimed
from roster.domain.merges import Rule
from roster.domain.profiles import Profile
from roster.domain.workspaces import Workspace
from roster.store import profiles


class ProfileBook:
    def __init__(self, workspace: Workspace, now: int, *, live: bool = True) -> None:
        self.workspace = workspace
        self.now = now  # updated_at of every profile written
        #: Writes of a live surface (not the loyalty migration): changed customers are then no
        #: longer migrated-only.
        self.live = live
        self.by_id: dict[str, Profile] = {}
        self.by_identifier: dict[tuple[str, str], Profile] = {}
        #: Every profile loaded whole, by uid.
        self.by_uid: dict[int, Profile] = {}
        self.new: list[Profile] = []
        self.dirty: list[Profile] = []
        self.pairs_of: dict[int, list[tuple[str, str]]] = {}  # id(profile) -> its indexed pairs
        #: uid -> the pairs the stored index holds for it (those of its attributes as loaded)
        self.stored_pairs: dict[int, list[tuple[str, str]]] = {}
        #: Gives each new profile its uid when it is created (a writer that sends rows naming
        #: it before it is inserted); without one, uids are given when new profiles are written.
        self.uid_source: Callable[[], int] | None = None
        #: The batch being decided (set by the planner), for what the book records of it.
        self.batch_id: str = ""
        #: With identity resolution on, profiles found sharing an identifier:
        #: ``(profile, holder, batch id)``; merged after the batch's writes
        #: (``services.book.identity_merges``).
        self.shared: list[tuple[Profile, Profile, str, Rule]] = []

    def preload(
        self,
        conn: Connection,
        changed_ids: Iterable[str],
        named_ids: Iterable[str],
        identifiers: Iterable[tuple[str, str]],
        uids: Iterable[int] = (),
    ) -> None:
        """Load every existing customer the batch names, in a few queries.

        ``changed_ids`` (customers whose attributes the batch may change), the holders of
        ``identifiers`` and ``uids`` are loaded whole; the customers only ``named_ids`` (by
        devices and events) are loaded without attributes.
        """
        ws = self.workspace.id
        changed = set(changed_ids)
        for p in profiles.load_by_customer_ids(conn, ws, changed):
            self._remember(p)
        light = set(named_ids) - changed
        for p in profiles.load_by_customer_ids(conn, ws, light, with_attributes=False):
            self._remember(p)
        found = profiles.uids_by_identifiers(conn, ws, set(identifiers))
        loaded: dict[int, Profile] = {
            p.uid: p for p in self.by_id.values() if not p.partial and p.uid is not None
        }
        missing = (set(found.values()) | set(uids)) - set(loaded)
        for p in profiles.load_by_uids(conn, ws, missing):
            assert p.uid is not None
            loaded[p.uid] = p
            self._remember(p)
        for pair, uid in found.items():  # the database's answer first: the oldest holder
            if uid in loaded:
                self.by_identifier.setdefault(pair, loaded[uid])
        self.by_uid = loaded
        for uid, p in loaded.items():
            self.index_identifiers(p)
            self.stored_pairs[uid] = self.pairs_of[id(p)]

    def get(self, customer_id: str) -> Profile | None:
        return self.by_id.get(customer_id)

    def find(self, identifiers: dict[str, Any]) -> Profile | None:
        """The profile holding the first configured identifier found in ``identifiers``."""
        for pair in identifier_pairs(self.workspace, identifiers):
            if pair in self.by_identifier:
                return self.by_identifier[pair]
        return None

    def create(self, customer_id: str | None, batch: Claimed) -> Profile:
        """A new customer, created by ``batch`` at its accept time."""
        uid = None if self.uid_source is None else self.uid_source()
        profile = Profile(uid, customer_id, created_at=batch.accepted_at, created_batch=batch.id)
        self.new.append(profile)
        self.mark_dirty(profile)
        if customer_id is not None:
            self.by_id[customer_id] = profile
        return profile

    def mark_dirty(self, profile: Profile) -> None:
        """The profile's attributes changed: write it at the next ``flush``."""
        if profile.partial:
            raise RuntimeError(f"profile {profile.customer_id!r} was loaded without attributes")
        if not profile.dirty:
            profile.dirty = True
            self.dirty.append(profile)

    def index_identifiers(self, profile: Profile) -> list[tuple[tuple[str, str], Profile]]:
        """Make the profile findable by its current identifiers (and no longer by the ones it
        dropped) within this batch; return the identifiers another profile already holds."""
        pairs = identifier_pairs(self.workspace, profile.attributes)
        for pair in self.pairs_of.get(id(profile), []):
            if pair not in pairs and self.by_identifier.get(pair) is profile:
                del self.by_identifier[pair]
        self.pairs_of[id(profile)] = pairs
        shared = []
        for pair in pairs:
            holder = self.by_identifier.setdefault(pair, profile)
            if holder is not profile:
                shared.append((pair, holder))
        return shared

    def flush(self, conn: Connection) -> None:
        """Write new and changed profiles, and the identifier index where it changed."""
        self.freeze(conn).write(conn)

    def freeze(self, conn: Connection) -> FrozenProfiles:
        """Number the new profiles and take the rows ``flush`` writes, as the profiles are now
        (encoded: later changes to them are not in the rows). The book then knows its profiles
        as stored once the rows are written, and may go on deciding the next batches while
        they are (``preload_more``)."""
        ws = self.workspace.id
        profiles.number(conn, self.new)
        new = set(map(id, self.new))
        new_uids = {p.uid for p in self.new if p.uid is not None}
        changed = [p for p in self.dirty if id(p) not in new]
        index: dict[int, list[tuple[str, str]]] = {}
        for p in self.dirty:
            p.dirty = False
            assert p.uid is not None
            pairs = identifier_pairs(self.workspace, p.attributes)
            if pairs != self.stored_pairs.get(p.uid, []):  # new profiles hold none yet
                index[p.uid] = self.stored_pairs[p.uid] = pairs
        frozen = FrozenProfiles(
            ws,
            self.now,
            self.live,
            profiles.new_rows(ws, self.new, self.now),
            profiles.changed_rows(changed),
            index,
            new_uids,
        )
        self.new = []
        self.dirty = []
        return frozen

    def preload_more(
        self, conn: Connection, now: int, changed_ids: Iterable[str], named_ids: Iterable[str]
    ) -> None:
        """Go on with the next batches after a ``freeze``: the profiles this book holds are
        taken as stored (their rows may still be on their way: nothing else writes them while
        the worker holds the batches), the others the next batches name are loaded as
        ``preload`` does. Without identity resolution only (no lookups by identifier)."""
        assert not self.workspace.identity_resolution
        assert not self.new
        assert not self.dirty
        self.now = now
        ws = self.workspace.id
        known = self.by_id
        # A customer only named before (partial) and changed now is loaded whole: its stored
        # attributes are the ones the earlier batches left, since they could not change them.
        changed = {c for c in changed_ids if c not in known or known[c].partial}
        for p in profiles.load_by_customer_ids(conn, ws, changed):
            self._remember(p)
            assert p.uid is not None
            self.index_identifiers(p)
            self.stored_pairs[p.uid] = self.pairs_of[id(p)]
        light = {c for c in named_ids if c not in known}
        for p in profiles.load_by_customer_ids(conn, ws, light, with_attributes=False):
            self._remember(p)

    def _remember(self, profile: Profile) -> None:
        if profile.customer_id is not None:
            self.by_id[profile.customer_id] = profile


@dataclass(frozen=True, slots=True)
class FrozenProfiles:
    """The rows of a ``ProfileBook.flush``, taken by ``freeze``: written by ``write``."""

    workspace_id: str
    now: int
    live: bool
    new_rows: list[tuple[Any, ...]]
    changed_rows: list[tuple[int, str, str, str]]
    index: dict[int, list[tuple[str, str]]]
    new_uids: set[int]

    def write(self, conn: Connection) -> None:
        profiles.insert_rows(conn, self.new_rows)
        profiles.update_rows(conn, self.changed_rows, self.now, live=self.live)
        profiles.replace_identifiers(conn, self.workspace_id, self.index, new=self.new_uids)


def identifier_pairs(workspace: Workspace, values: dict[str, Any]) -> list[tuple[str, str]]:
    """``(name, value)`` of each of the workspace's identifier attributes in ``values``, and
    of its anonymous id (``identity.ANONYMOUS_ID``, indexed in every workspace)."""
    pairs = identity.identifier_pairs(workspace.identifiers, values)
    anonymous = values.get(identity.ANONYMOUS_ID)
    if anonymous is not None and identity.ANONYMOUS_ID not in workspace.identifiers:
        pairs += identity.identifier_pairs((identity.ANONYMOUS_ID,), values)
    return pairs
