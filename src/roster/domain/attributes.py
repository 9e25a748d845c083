"""Customer attributes: which names and values are allowed, and last-write-wins by source time.

Each stored attribute keeps the source time (epoch ms) of the write that set it. An update
older than the stored time is skipped (``stale_attribute_skipped``); an update at the same
time as the stored one wins, so within one workspace's acceptance order the later write wins.

Customer.io takes traits and attributes whose values are objects (nested JSON): with
``objects=True`` such a value (or an array holding objects) is kept whole, up to
``MAX_OBJECT_BYTES`` of JSON; last write wins per top-level attribute, so an object sent again
replaces the stored one whole, as Customer.io does. MoEngage rejects objects unless its account
enables them, so its surface keeps refusing them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from roster.domain import outcomes
from roster.domain.element_rules import Problem, excerpt, field_name
from roster.domain.platforms import canonical_platform, parse_active

MAX_NAME_LENGTH = 200
MAX_ARRAY_ITEMS = 50
FORBIDDEN_NAMES = frozenset({"", "id", "_id"})
DIRECTIVES = frozenset({"_timestamp", "_update"})
#: Fields the system owns: a client can never set them as attributes.
SYSTEM_NAMES = frozenset(
    {"uid", "customer_id", "migrated", "migrated_batch", "tier", "wallet", "balance", "metrics"}
    | {"merged_into", "reachable"}
)
SCALARS = (str, int, float, bool, type(None))
#: The most JSON one object-valued attribute may hold (``objects=True``).
MAX_OBJECT_BYTES = 16_384


@dataclass(slots=True)
class CleanAttributes:
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def clean_attributes(
    raw: Mapping[str, Any], *, max_string: int, prefix: str, objects: bool = False
) -> CleanAttributes:
    """Keep the attributes that are allowed; explain every one that is not. With ``objects``,
    values that are objects (or arrays holding them) are allowed (Customer.io)."""
    out = CleanAttributes()
    for name, value in raw.items():
        where = f"{prefix}.{field_name(name)}"
        problem = _name_problem(name, where)
        if problem is None and name == "platforms":
            value, problem = _clean_platforms(value, where)
        elif problem is None and objects and _holds_object(value):
            problem = _object_problem(value, where)
        elif problem is None:
            problem = _value_problem(value, where, max_string)
        if problem is None:
            out.values[name] = value
        elif problem.code:
            out.problems.append(problem)
    return out


def _name_problem(name: str, where: str) -> Problem | None:
    if name in DIRECTIVES:
        return Problem(where, "", "")  # a directive, consumed elsewhere: silently not stored
    if name in FORBIDDEN_NAMES or len(name) > MAX_NAME_LENGTH:
        rule = "must be 1-200 characters and not 'id' or '_id'"
        return Problem(where, outcomes.INVALID_ATTRIBUTE_NAME, f"attribute name {rule}")
    if name.startswith("_"):
        msg = "names beginning with '_' are reserved for directives (_timestamp, _update)"
        return Problem(where, outcomes.INVALID_ATTRIBUTE_NAME, msg)
    if name in SYSTEM_NAMES:
        return Problem(where, outcomes.SYSTEM_ATTRIBUTE, f"'{name}' is owned by Roster")
    return None


def _holds_object(value: Any) -> bool:
    return isinstance(value, dict) or (
        isinstance(value, list) and any(isinstance(v, dict | list) for v in value)
    )


def _object_problem(value: Any, where: str) -> Problem | None:
    size = len(msgspec.json.encode(value))
    if size > MAX_OBJECT_BYTES:
        msg = f"an object value holds at most {MAX_OBJECT_BYTES} bytes of JSON, got {size}"
        return Problem(where, outcomes.VALUE_TOO_LONG, msg)
    return None


def _value_problem(value: Any, where: str, max_string: int) -> Problem | None:
    if isinstance(value, list):
        if len(value) > MAX_ARRAY_ITEMS:
            msg = f"arrays hold at most {MAX_ARRAY_ITEMS} items, got {len(value)}"
            return Problem(where, outcomes.INVALID_ATTRIBUTE_VALUE, msg)
        for item in value:
            problem = _scalar_problem(item, where, max_string, in_array=True)
            if problem:
                return problem
        return None
    return _scalar_problem(value, where, max_string, in_array=False)


def _scalar_problem(value: Any, where: str, max_string: int, *, in_array: bool) -> Problem | None:
    if not isinstance(value, SCALARS) or (in_array and value is None):
        allowed = "scalars" if in_array else "a string, number, bool, null or array of scalars"
        msg = f"value must be {allowed}, got {type(value).__name__}"
        return Problem(where, outcomes.INVALID_ATTRIBUTE_VALUE, msg)
    if isinstance(value, str) and len(value) > max_string:
        msg = f"string values hold at most {max_string} characters, got {len(value)}"
        return Problem(where, outcomes.VALUE_TOO_LONG, msg)
    return None


def _clean_platforms(value: Any, where: str) -> tuple[Any, Problem | None]:
    """``platforms: [{platform, active}]`` → canonical platform names and bool ``active``."""
    shape = "platforms must be a list of {platform, active} objects"
    if not isinstance(value, list) or len(value) > MAX_ARRAY_ITEMS:
        return None, Problem(where, outcomes.INVALID_ATTRIBUTE_VALUE, shape)
    cleaned = []
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            return None, Problem(f"{where}[{i}]", outcomes.INVALID_ATTRIBUTE_VALUE, shape)
        platform = canonical_platform(entry.get("platform"))
        if platform is None:
            msg = f"{excerpt(entry.get('platform'))} is not a platform (ANDROID, iOS, web, TV)"
            return None, Problem(f"{where}[{i}].platform", outcomes.INVALID_PLATFORM, msg)
        active = parse_active(entry.get("active", True))
        if active is None:
            msg = "active must be true, false, 'true' or 'false'"
            return None, Problem(f"{where}[{i}].active", outcomes.INVALID_ATTRIBUTE_VALUE, msg)
        cleaned.append({"platform": platform, "active": active})
    return cleaned, None


@dataclass(slots=True)
class MergeResult:
    """The outcome of applying one update to one profile's attributes."""

    changed: bool = False
    #: (attribute name, stored source time) of every attribute the update did not overwrite.
    stale: list[tuple[str, int]] = field(default_factory=list)


def merge_last_write_wins(
    values: dict[str, Any],
    times: dict[str, int],
    update: Mapping[str, Any],
    source_ms: int,
    sources: dict[str, str] | None = None,
    batch_id: str = "",
) -> MergeResult:
    """Apply ``update`` written at ``source_ms`` to ``values``/``times`` in place; each value it
    writes (not one it finds already stored, with its time) is ``batch_id``'s in ``sources``."""
    result = MergeResult()
    for name, value in update.items():
        stored = times.get(name)
        if stored is not None and stored > source_ms:
            result.stale.append((name, stored))
            continue
        if name not in values or values[name] != value or stored != source_ms:
            result.changed = True
            if sources is not None:
                sources[name] = batch_id
        values[name] = value
        times[name] = source_ms
    return result
