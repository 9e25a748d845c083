"""Attribute rules: what is allowed, and last-write-wins by source time."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from roster.domain.attributes import clean_attributes, merge_last_write_wins


def _codes(raw: dict[str, Any]) -> dict[str, str]:
    clean = clean_attributes(raw, max_string=512, prefix="attributes")
    return {p.field: p.code for p in clean.problems}


def test_forbidden_and_reserved_names_are_refused() -> None:
    """'', 'id', '_id', unknown directives and system fields are refused with their codes."""
    codes = _codes({"": 1, "id": 1, "_id": 1, "_secret": 1, "uid": 5, "tier": "Gold", "ok": 1})
    assert codes == {
        "attributes.": "invalid_attribute_name",
        "attributes.id": "invalid_attribute_name",
        "attributes._id": "invalid_attribute_name",
        "attributes._secret": "invalid_attribute_name",
        "attributes.uid": "system_attribute",
        "attributes.tier": "system_attribute",
    }


def test_directives_are_consumed_silently() -> None:
    """_timestamp and _update are directives: not stored, not reported."""
    clean = clean_attributes({"_timestamp": 1, "_update": True, "a": 1}, max_string=5, prefix="x")
    assert clean.values == {"a": 1}
    assert clean.problems == []


def test_values_are_checked_by_type_and_length() -> None:
    """Long strings, objects, long arrays and arrays of objects are refused; scalars kept."""
    raw = {"long": "x" * 513, "obj": {"a": 1}, "many": list(range(51)), "nested": [{"a": 1}]}
    raw |= {"fine": "x" * 512, "n": 1.5, "b": False, "nothing": None, "tags": ["a", 1, True]}
    clean = clean_attributes(raw, max_string=512, prefix="attributes")
    assert set(clean.values) == {"fine", "n", "b", "nothing", "tags"}
    assert {p.field: p.code for p in clean.problems} == {
        "attributes.long": "value_too_long",
        "attributes.obj": "invalid_attribute_value",
        "attributes.many": "invalid_attribute_value",
        "attributes.nested": "invalid_attribute_value",
    }


def test_platforms_are_canonicalised() -> None:
    """platforms entries get canonical names and boolean active flags."""
    raw = {"platforms": [{"platform": "ios", "active": "true"}, {"platform": "Android"}]}
    clean = clean_attributes(raw, max_string=512, prefix="attributes")
    assert clean.values["platforms"] == [
        {"platform": "iOS", "active": True},
        {"platform": "ANDROID", "active": True},
    ]


def test_an_older_update_is_skipped_and_reported() -> None:
    """An update older than the stored value is skipped with the stored time."""
    values, times = {"a": "new"}, {"a": 200}
    result = merge_last_write_wins(values, times, {"a": "old", "b": 1}, 100)
    assert values == {"a": "new", "b": 1}
    assert result.stale == [("a", 200)]
    assert result.changed


updates = st.lists(
    st.tuples(st.sampled_from("abc"), st.integers(-5, 5)), min_size=1, max_size=4
).map(dict)


@given(st.lists(updates, min_size=1, max_size=12, unique_by=lambda u: tuple(u.items())), st.data())
def test_last_write_wins_is_independent_of_arrival_order(
    batch: list[dict[str, int]], data: st.DataObject
) -> None:
    """Updates with distinct source times give the same profile in any arrival order."""
    timed = [(update, 1000 + i) for i, update in enumerate(batch)]
    shuffled = data.draw(st.permutations(timed))

    def apply(order: list[tuple[dict[str, int], int]]) -> tuple[dict[str, Any], dict[str, int]]:
        values: dict[str, Any] = {}
        times: dict[str, int] = {}
        for update, at in order:
            merge_last_write_wins(values, times, update, at)
        return values, times

    assert apply(shuffled) == apply(timed)
