"""Merging two profiles: which attribute values the retained profile ends with, by rule.

Three rules, one per way a merge comes about:

* ``moengage`` (Merge Users): the merged user's value wins a conflict; attributes only the
  retained user has stay;
* ``customerio`` (merge_customers): the primary (retained) keeps its values and only gains
  attributes it lacks or holds empty (``null`` or ``""``);
* ``identity`` (identity resolution): per attribute, the value written last wins (by source
  time); on a tie the retained profile's value stays.

Every attribute of the merged profile is accounted for in the journal: moved (the retained
had none), replaced (its value overwrote the retained's) or dropped (the retained's stayed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from roster.domain.campaigns import ACTIVITY_WINDOW_MS

#: ``anonymous``: an identify naming both ``userId`` and ``anonymousId`` (Data Pipelines) joins
#: the anonymous profile and the person: as ``identity`` (last write wins, every event moves,
#: the kept profile takes the customer id), without MoEngage's marker events.
#: ``alias``: a Data Pipelines ``alias`` merges the ``previousId``'s profile into the
#: ``userId``'s, kept whatever their ages, otherwise as ``anonymous``.
Rule = Literal["moengage", "customerio", "identity", "anonymous", "alias"]
RULES: tuple[Rule, ...] = ("moengage", "customerio", "identity", "anonymous", "alias")
#: The rules under which every event of the merged profile moves, and no marker is added
#: (Data Pipelines' linking of identities).
LINKING: frozenset[Rule] = frozenset({"anonymous", "alias"})

#: A merge moves the merged profile's own events of the last 30 days (MoEngage and
#: Customer.io); an identity-resolution merge moves them all (one person, one profile).
EVENT_WINDOW_MS = ACTIVITY_WINDOW_MS
#: Marker events of a MoEngage merge, on the retained and on the merged (tombstone) profile.
RETAINED_MARKER = "MOE_USER_MERGED"
MERGED_MARKER = "MOE_USER_MERGE_EVENT"
DAY_MS = 24 * 3600 * 1000
#: Tombstones with no new data for this long are purged.
TOMBSTONE_KEPT_MS = 30 * DAY_MS

Outcome = Literal["moved", "replaced", "dropped"]


@dataclass(frozen=True, slots=True)
class Ref:
    """A customer as a merge request names it: by customer id, or (Customer.io) by email."""

    by: str  # "id" or "email"
    value: Any
    field: str


@dataclass(frozen=True, slots=True)
class Pair:
    """One merge a request asks for, at ``index`` in it: ``merged`` into ``retained``."""

    index: int
    merged: Ref
    retained: Ref


@dataclass(frozen=True, slots=True)
class AttributeMove:
    """What became of one attribute of the merged profile."""

    name: str
    outcome: Outcome
    #: The merged profile's value and the time it was written.
    value: Any
    written_at: int | None
    #: The retained profile's value before and after (``before`` is absent when it had none).
    had_before: bool
    before: Any
    after: Any

    def as_json(self) -> dict[str, Any]:
        entry = {"name": self.name, "outcome": self.outcome, "merged_value": self.value}
        if self.had_before:
            entry["before"] = self.before
        entry["after"] = self.after
        return entry


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _merged_wins(
    rule: Rule, merged_time: int | None, retained_time: int | None, retained_value: Any
) -> bool:
    if rule == "moengage":
        return True
    if rule == "customerio":
        return _empty(retained_value)
    return (merged_time or 0) > (retained_time or 0)


def merge_attributes(
    rule: Rule,
    retained: dict[str, Any],
    retained_times: dict[str, int],
    merged: dict[str, Any],
    merged_times: dict[str, int],
) -> list[AttributeMove]:
    """Fold ``merged`` into ``retained`` (both changed in place by the rule) and say what
    became of each of the merged profile's attributes, in name order.

    A value that wins keeps the newer of the two source times, so a later update still wins
    over it and an older one is still skipped as stale (MoEngage's rule may let an older value
    win: the merge is then the write that set it, and it dates from the competing values).
    """
    moves: list[AttributeMove] = []
    for name in sorted(merged):
        value = merged[name]
        m_time = merged_times.get(name)
        if name not in retained:
            retained[name] = value
            if m_time is not None:
                retained_times[name] = m_time
            moves.append(AttributeMove(name, "moved", value, m_time, False, None, value))
            continue
        before = retained[name]
        r_time = retained_times.get(name)
        if _merged_wins(rule, m_time, r_time, before):
            retained[name] = value
            newest = max(t for t in (m_time, r_time, 0) if t is not None)
            if newest:
                retained_times[name] = newest
            moves.append(AttributeMove(name, "replaced", value, m_time, True, before, value))
        else:
            moves.append(AttributeMove(name, "dropped", value, m_time, True, before, before))
    return moves
