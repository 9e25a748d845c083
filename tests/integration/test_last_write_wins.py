"""Last write wins by source time, whatever order the updates arrive in (SPEC §4)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roster_testkit import Harness

BASE = 1_700_000_000_000


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(order=st.permutations(list(range(8))), per_batch=st.integers(1, 3))
def test_shuffled_timestamped_updates_converge_to_the_newest(
    roster: Harness, order: list[int], per_batch: int
) -> None:
    """Eight updates with distinct _timestamps, posted shuffled over several batches, leave the
    newest value, and each stale update is reported once as stale_attribute_skipped."""
    tenant = roster.tenant()
    elements = [
        {
            "type": "customer",
            "customer_id": "c1",
            "attributes": {"plan": f"v{n}", "_timestamp": (BASE + n * 1000) // 1000},
        }
        for n in order
    ]
    batch_ids = []
    for start in range(0, len(elements), per_batch):
        response = roster.transition(tenant, elements[start : start + per_batch])
        batch_ids.append(response.json()["batch_id"])
    roster.drain()
    profile = roster.customer(tenant, "c1")
    assert profile is not None
    assert profile["attributes"]["plan"] == "v7"
    assert profile["attribute_times"]["plan"] == "2023-11-14T22:13:27.000Z"
    newest_so_far = -1
    expected_stale = 0
    for n in order:
        expected_stale += n < newest_so_far
        newest_so_far = max(newest_so_far, n)
    reported = [
        w
        for b in batch_ids
        for w in roster.batch(tenant, b)["warnings"]
        if w["code"] == "stale_attribute_skipped"
    ]
    assert len(reported) == expected_stale
    assert all(w["field"] == "attributes.plan" and w["key"] == "c1" for w in reported)


def test_untimed_updates_follow_acceptance_order(roster: Harness) -> None:
    """Without _timestamp, an attribute's source time is its batch's accept time."""
    tenant = roster.tenant()
    for value in ("first", "second"):
        element = {"type": "customer", "customer_id": "c1", "attributes": {"plan": value}}
        roster.transition(tenant, [element])
    roster.drain()
    profile = roster.customer(tenant, "c1")
    assert profile is not None
    assert profile["attributes"]["plan"] == "second"


def test_a_future_timestamp_is_refused(roster: Harness) -> None:
    """A _timestamp over 10 minutes ahead fails its element, so it cannot pin a value forever."""
    tenant = roster.tenant()
    future = {"plan": "pinned", "_timestamp": 4_102_444_800}  # 2100-01-01
    elements = [{"type": "customer", "customer_id": "c1", "attributes": future}]
    batch_id = roster.transition(tenant, elements).json()["batch_id"]
    roster.drain()
    batch = roster.batch(tenant, batch_id)
    assert [(e["field"], e["code"]) for e in batch["errors"]] == [
        ("attributes._timestamp", "invalid_timestamp")
    ]
    assert roster.customer(tenant, "c1") is None
