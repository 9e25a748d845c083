"""Nothing a client sends can crash or stall a worker: every element gets an outcome."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roster_testkit import Harness

chars = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
text = st.text(chars, max_size=30)
long_text = st.text(chars, min_size=250, max_size=600)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
    long_text,
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=8,
)
ids = st.one_of(text, st.integers(-(2**63), 2**63 - 1), long_text, values)
times = st.one_of(
    values, st.integers(0, 10**14), st.sampled_from(["2024-01-01T00:00:00Z", "1712567385726"])
)
action = st.fixed_dictionaries(
    {},
    optional={
        "action": st.one_of(text, values),
        "attributes": values,
        "platform": st.one_of(st.sampled_from(["iOS", "android", "{{x}}"]), values),
        "app_version": values,
        "user_time": times,
        "current_time": times,
        "user_timezone_offset": st.one_of(st.integers(-(10**6), 10**6), values),
    },
)
element = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("customer")},
        optional={
            "customer_id": ids,
            "attributes": st.one_of(st.dictionaries(text, values, max_size=6), values),
            "platforms": values,
            "update_existing_only": values,
        },
    ),
    st.fixed_dictionaries(
        {"type": st.just("device")},
        optional={
            "customer_id": ids,
            "device_id": ids,
            "attributes": st.one_of(
                st.fixed_dictionaries(
                    {}, optional={"platform": values, "push_id": ids, "moe_push_opted": values}
                ),
                values,
            ),
        },
    ),
    st.fixed_dictionaries(
        {"type": st.just("event")},
        optional={
            "customer_id": ids,
            "device_id": ids,
            "user_identifiers": values,
            "actions": st.one_of(st.lists(action, max_size=3), values),
        },
    ),
)


@settings(
    max_examples=int(os.environ.get("ROSTER_TEST_EXAMPLES", "50")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(elements=st.lists(element, min_size=1, max_size=12))
def test_any_well_formed_request_ends_done_with_every_element_counted(
    roster: Harness, elements: list[dict[str, Any]]
) -> None:
    """Any request that passes the door is applied: its batch ends done and every element is
    applied, skipped or failed, never lost."""
    tenant = roster.tenant()
    response = roster.transition(tenant, elements)
    assert response.status_code == 200, response.text
    roster.drain()
    batch = roster.batch(tenant, response.json()["batch_id"])
    assert batch["status"] == "done", batch["last_error"]
    counts = batch["counts"]
    assert counts["applied"] + counts["skipped"] + counts["failed"] == counts["total"]
    assert counts["total"] == len(elements)
    assert len({e["index"] for e in batch["errors"]}) == counts["failed"]
