"""Customer.io traits and attributes whose values are objects are kept whole (nested JSON), last
write wins per top-level attribute, up to 16 KB of JSON each; MoEngage keeps refusing objects."""

from __future__ import annotations

from roster_testkit import Harness


def test_object_traits_are_kept_and_replaced_whole(roster: Harness) -> None:
    tenant = roster.tenant()
    address = {"city": "Lima", "zip": "15001", "geo": {"lat": -12.04, "lon": -77.03}}
    first = {
        "userId": "u1",
        "traits": {"address": address, "orders": [{"id": 1}, {"id": 2}], "plan": "pro"},
        "timestamp": "2026-01-01T00:00:00Z",
    }
    later = {
        "userId": "u1",
        "traits": {"address": {"city": "Cusco"}},
        "timestamp": "2026-01-02T00:00:00Z",
    }
    huge = {"userId": "u1", "traits": {"blob": {"x": "a" * 20_000}}}
    for body in (first, later, huge):
        response = roster.request("POST", "/v1/identify", json=body, headers=tenant.auth)
        assert response.status_code == 200, response.text
    v1 = roster.request(
        "PUT", "/api/v1/customers/u2", json={"prefs": {"lang": "es"}}, headers=tenant.auth
    )
    roster.drain()
    profile = roster.customer(tenant, "u1")
    assert profile is not None
    assert profile["attributes"] == {
        "address": {"city": "Cusco"},  # replaced whole: last write wins per top-level attribute
        "orders": [{"id": 1}, {"id": 2}],
        "plan": "pro",
    }
    batches = roster.get("/v1/batches", tenant).json()["batches"]
    refused = roster.batch(tenant, batches[1]["batch_id"])  # newest first: the huge one is 2nd
    assert [(w["field"], w["code"]) for w in refused["warnings"]] == [
        ("traits.blob", "value_too_long")
    ]
    assert roster.customer(tenant, "u2")["attributes"] == {"prefs": {"lang": "es"}}  # type: ignore[index]
    assert v1.status_code == 200


def test_moengage_still_refuses_object_attributes(roster: Harness) -> None:
    tenant = roster.tenant()
    response = roster.transition(
        tenant,
        [{"type": "customer", "customer_id": "c1", "attributes": {"address": {"city": "Lima"}}}],
    )
    roster.drain()
    batch = roster.batch(tenant, response.json()["batch_id"])
    assert [w["code"] for w in batch["warnings"]] == ["invalid_attribute_value"]
