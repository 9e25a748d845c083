"""The customers one batch touches, loaded in one query and written back in a few.

A batch finds customers by ``customer_id`` or (with identity resolution) by identifier,
creates the ones it needs, changes their attributes in memory, and ``flush`` writes every
new and changed profile and its identifier index in set-based statements.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.engine import Connection

from roster.domain import identity
from roster.domain.workspaces import Workspace
from roster.store import profiles
from roster.store.profiles import Profile


class ProfileBook:
    def __init__(self, conn: Connection, workspace: Workspace, now: int, batch_id: str) -> None:
        self.conn = conn
        self.workspace = workspace
        self.now = now
        self.batch_id = batch_id
        self.by_id: dict[str, Profile] = {}
        self.by_identifier: dict[tuple[str, str], Profile] = {}
        self.new: list[Profile] = []

    def preload(self, customer_ids: Iterable[str], identifiers: Iterable[tuple[str, str]]) -> None:
        """Load every existing customer the batch names, in (at most) three queries."""
        ws = self.workspace.id
        for p in profiles.load_by_customer_ids(self.conn, ws, set(customer_ids)):
            self._remember(p)
        found = profiles.uids_by_identifiers(self.conn, ws, set(identifiers))
        loaded = {p.uid: p for p in self.by_id.values()}
        missing = set(found.values()) - set(loaded)
        for p in profiles.load_by_uids(self.conn, ws, missing):
            loaded[p.uid] = p
            self._remember(p)
        for pair, uid in found.items():
            if uid in loaded:
                self.by_identifier.setdefault(pair, loaded[uid])

    def get(self, customer_id: str) -> Profile | None:
        return self.by_id.get(customer_id)

    def find(self, identifiers: dict[str, Any]) -> Profile | None:
        """The profile holding the first configured identifier found in ``identifiers``."""
        for pair in identifier_pairs(self.workspace, identifiers):
            if pair in self.by_identifier:
                return self.by_identifier[pair]
        return None

    def create(self, customer_id: str | None) -> Profile:
        profile = Profile(uid=None, customer_id=customer_id, created_at=self.now, dirty=True)
        self.new.append(profile)
        if customer_id is not None:
            self.by_id[customer_id] = profile
        return profile

    def index_identifiers(self, profile: Profile) -> None:
        """Make the profile findable by its identifier attributes within this batch."""
        for pair in identifier_pairs(self.workspace, profile.attributes):
            self.by_identifier.setdefault(pair, profile)

    def flush(self) -> None:
        """Write new and changed profiles and their identifier index."""
        ws = self.workspace.id
        profiles.insert_new(self.conn, ws, self.new, self.now, self.batch_id)
        new = set(map(id, self.new))
        changed = [p for p in self._all() if p.dirty and id(p) not in new]
        profiles.update_existing(self.conn, changed, self.now)
        dirty = [p for p in self._all() if p.dirty]
        index = {p.uid: identifier_pairs(self.workspace, p.attributes) for p in dirty if p.uid}
        profiles.replace_identifiers(self.conn, ws, index)
        for p in dirty:
            p.dirty = False
        self.new = []

    def _all(self) -> list[Profile]:
        seen: dict[int, Profile] = {}
        for p in [*self.by_id.values(), *self.by_identifier.values(), *self.new]:
            seen[id(p)] = p
        return list(seen.values())

    def _remember(self, profile: Profile) -> None:
        if profile.customer_id is not None:
            self.by_id[profile.customer_id] = profile


def identifier_pairs(workspace: Workspace, values: dict[str, Any]) -> list[tuple[str, str]]:
    """``(name, value)`` of each of the workspace's identifier attributes in ``values``."""
    return identity.identifier_pairs(workspace.identifiers, values)
