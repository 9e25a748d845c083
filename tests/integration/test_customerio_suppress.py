"""Customer.io's suppress deletes the person and keeps its identifier out: later calls naming
it (Track API, Data Pipelines, devices) are skipped as ``suppressed`` until unsuppress lets them
in again; unsuppress recreates nothing."""

from __future__ import annotations

from roster_testkit import Harness, Tenant


def _post(roster: Harness, tenant: Tenant, path: str, body: object = None) -> str:
    response = roster.request("POST", path, json=body or {}, headers=tenant.auth)
    assert response.status_code == 200, response.text
    batch_id: str = response.json()["batch_id"]
    return batch_id


def test_a_suppressed_person_is_deleted_and_kept_out_until_unsuppressed(roster: Harness) -> None:
    tenant = roster.tenant()
    roster.request("PUT", "/api/v1/customers/ada", json={"plan": "pro"}, headers=tenant.auth)
    roster.drain()
    assert roster.customer(tenant, "ada") is not None
    suppressed = _post(roster, tenant, "/api/v1/customers/ada/suppress")
    again = _post(roster, tenant, "/api/v1/customers/ada/suppress")  # already: nothing changes
    ignored = [
        roster.request("PUT", "/api/v1/customers/ada", json={"plan": "x"}, headers=tenant.auth),
        roster.request(
            "POST", "/api/v1/customers/ada/events", json={"name": "e"}, headers=tenant.auth
        ),
        roster.request(
            "POST", "/v1/track", json={"userId": "ada", "event": "e"}, headers=tenant.auth
        ),
        roster.request(
            "PUT",
            "/api/v1/customers/ada/devices",
            json={"device": {"id": "t", "platform": "ios"}},
            headers=tenant.auth,
        ),
    ]
    roster.drain()
    assert roster.batch(tenant, suppressed)["effects"]["updated"] == 1
    assert roster.batch(tenant, again)["effects"]["unchanged"] == 1
    assert roster.customer(tenant, "ada") is None
    for response in ignored:
        batch = roster.batch(tenant, response.json()["batch_id"])
        assert [w["code"] for w in batch["warnings"]] == ["suppressed"], batch
    unsuppressed = _post(roster, tenant, "/api/v1/customers/ada/unsuppress")
    not_suppressed = _post(roster, tenant, "/api/v1/customers/bob/unsuppress")
    roster.drain()
    assert roster.customer(tenant, "ada") is None  # unsuppressing recreates nothing
    assert roster.batch(tenant, unsuppressed)["counts"]["applied"] == 1
    assert roster.batch(tenant, not_suppressed)["warnings"][0]["code"] == "not_suppressed"
    roster.request("PUT", "/api/v1/customers/ada", json={"plan": "free"}, headers=tenant.auth)
    roster.drain()
    assert roster.customer(tenant, "ada")["attributes"] == {"plan": "free"}  # type: ignore[index]


def test_suppressing_by_email_keeps_that_email_out(roster: Harness) -> None:
    tenant = roster.tenant()
    _post(roster, tenant, "/api/v1/customers/Ada@Example.com/suppress")
    call = roster.request(
        "PUT", "/api/v1/customers/ada@example.com", json={"plan": "x"}, headers=tenant.auth
    )
    roster.drain()
    batch = roster.batch(tenant, call.json()["batch_id"])
    assert batch["warnings"][0]["code"] == "suppressed"
