"""Identity-resolution merges: profiles an import found sharing a configured identifier are
merged into the older one (the lowest uid), after the batch's own writes, in the same
transaction (the identity resolution of MoEngage Bulk Import).

The import is applied as it was sent first (every profile written, events and devices
stored); then each group of profiles linked by shared identifiers becomes one: the others are
merged into its oldest by the shared machinery (``services.book.merging``) with the ``identity``
rule: per attribute the value written last wins; all their own events move (one person, one
profile); marker events as for a MoEngage merge; and a retained profile without a customer id
takes the merged one's.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from roster.domain.merges import Rule
from roster.domain.profiles import Profile
from roster.services.book.merging import Move, fold, write_moves
from roster.services.book.profile_book import ProfileBook, identifier_pairs
from roster.store import profiles


def merge_shared(conn: Connection, book: ProfileBook) -> None:
    """Merge the profiles the book found sharing identifiers; call after the book's flush and
    the batch's other writes (every profile has its uid, every event is stored)."""
    if not book.shared:
        return
    parent: dict[int, Profile] = {}  # id(profile) -> a profile of its group

    def root(p: Profile) -> Profile:
        while parent.get(id(p), p) is not p:
            p = parent[id(p)]
        return p

    batch_of: dict[int, str] = {}
    identity_linked: set[int] = set()  # profiles linked by a shared identifier, not only an
    for profile, holder, batch_id, rule in book.shared:  # anonymous id
        a, b = root(profile), root(holder)
        batch_of[id(profile)] = batch_of[id(holder)] = batch_id
        if rule == "identity":
            identity_linked.update((id(profile), id(holder)))
        if a is not b:
            parent[id(a)] = b
    distinct = {id(p): p for profile, holder, *_ in book.shared for p in (profile, holder)}
    groups: dict[int, list[Profile]] = {}
    for p in distinct.values():
        groups.setdefault(id(root(p)), []).append(p)
    moves: list[Move] = []
    retained_all: list[Profile] = []
    for members in groups.values():
        members.sort(key=lambda p: p.uid or 0)
        retained, *merged = members
        kept_by: Rule = (
            "identity" if any(id(p) in identity_linked for p in members) else "anonymous"
        )
        for m in merged:
            move = Move(m, retained, kept_by, batch_of[id(m)], book.now)
            fold(move)
            moves.append(move)
        retained_all.append(retained)
    profiles.update_existing(conn, retained_all, book.now, live=book.live)
    index = {
        p.uid: identifier_pairs(book.workspace, p.attributes)
        for p in retained_all
        if p.uid is not None  # every profile has its uid after the flush
    }
    profiles.replace_identifiers(conn, book.workspace.id, index)
    write_moves(conn, book.workspace.id, moves)
    book.shared = []
