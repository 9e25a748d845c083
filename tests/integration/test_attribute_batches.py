"""Each attribute of a profile names the batch that wrote its value: kept while later batches
send the same value or an older one, moved with the value when a merge moves it."""

from __future__ import annotations

import json

from roster_testkit import Harness, Tenant


def _send(roster: Harness, tenant: Tenant, customer_id: str, at: int, **values: object) -> str:
    """A Track API v1 identify written at ``at`` (epoch seconds, its ``_timestamp``)."""
    response = roster.request(
        "PUT",
        f"/api/v1/customers/{customer_id}",
        content=json.dumps({**values, "_timestamp": at}),
        headers=tenant.json_auth,
    )
    assert response.status_code == 200, response.text
    roster.drain()
    batch_id: str = response.json()["batch_id"]
    return batch_id


def test_each_attribute_names_the_batch_that_wrote_it(roster: Harness) -> None:
    tenant = roster.tenant()
    first = roster.cio_batch(
        tenant, "/v1/identify", {"userId": "ada", "traits": {"plan": "pro", "team": "blue"}}
    )
    created = roster.customer(tenant, "ada")
    assert created is not None
    assert created["attribute_batches"] == {"plan": first, "team": first}
    second = roster.cio_batch(
        tenant, "/v1/identify", {"userId": "ada", "traits": {"plan": "max", "team": "blue"}}
    )
    third = roster.cio_batch(tenant, "/v1/identify", {"userId": "ada", "traits": {"plan": "x"}})
    profile = roster.customer(tenant, "ada")
    assert profile is not None
    assert profile["attribute_batches"]["plan"] == third
    assert profile["attribute_batches"]["team"] == second  # written again, at a newer time


def test_a_stale_update_leaves_the_batch_and_a_merge_moves_it(roster: Harness) -> None:
    tenant = roster.tenant()
    late = _send(roster, tenant, "a", 1_700_000_000, plan="pro")
    _send(roster, tenant, "a", 1_000_000_000, plan="old")  # older: skipped as stale
    kept = roster.customer(tenant, "a")
    assert kept is not None
    assert kept["attribute_batches"] == {"plan": late}
    other = _send(roster, tenant, "b", 1_600_000_000, city="Lima")
    merged = roster.request(
        "POST",
        f"/v1/customer/merge?app_id={tenant.id}",
        content=json.dumps({"merge_data": [{"merged_user": "b", "retained_user": "a"}]}),
        headers=tenant.json_auth,
    )
    assert merged.status_code == 200, merged.text
    roster.drain()
    after = roster.customer(tenant, "a")
    assert after is not None
    assert after["attribute_batches"]["city"] == other
    assert after["attribute_batches"]["plan"] == late
