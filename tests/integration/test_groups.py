"""Data Pipelines ``group``: the group is kept with its traits (last write wins per trait, by
source time) and the person's membership, both readable back; a merge moves memberships, a
delete removes them."""

from __future__ import annotations

from typing import Any

from roster_testkit import Harness, Tenant


def _send(roster: Harness, tenant: Tenant, path: str, body: dict[str, Any]) -> str:
    response = roster.request("POST", path, json=body, headers=tenant.auth)
    assert response.status_code == 200, response.text
    batch_id: str = response.json()["batch_id"]
    return batch_id


def test_a_group_keeps_its_traits_and_members(roster: Harness) -> None:
    tenant = roster.tenant()
    first = _send(
        roster,
        tenant,
        "/v1/group",
        {"userId": "u1", "groupId": "acme", "traits": {"plan": "pro", "seats": 5},
         "timestamp": "2026-01-02T00:00:00Z"},
    )  # fmt: skip
    calls = [
        {"type": "group", "userId": "u2", "groupId": "acme", "traits": {"seats": 9},
         "timestamp": "2026-01-03T00:00:00Z"},
        {"type": "group", "userId": "u2", "groupId": "acme", "traits": {"plan": "free"},
         "timestamp": "2026-01-01T00:00:00Z"},  # older than the stored plan: skipped
        {"type": "group", "userId": "u1", "groupId": 42, "traits": {"address": {"city": "Lima"}}},
        {"type": "group", "userId": "u1", "traits": {}},
    ]  # fmt: skip
    batch = _send(roster, tenant, "/v1/batch", {"batch": calls})
    roster.drain()
    assert roster.batch(tenant, first)["effects"]["created"] == 1
    ledger = roster.batch(tenant, batch)
    assert ledger["counts"] == {"total": 4, "applied": 3, "skipped": 0, "failed": 1}
    assert ledger["errors"][0]["field"] == "groupId"
    assert [w["code"] for w in ledger["warnings"]] == ["stale_attribute_skipped"]
    acme = roster.get("/v1/groups/acme", tenant).json()
    assert (acme["traits"], acme["members"]) == ({"plan": "pro", "seats": 9}, 2)
    assert roster.get("/v1/groups/42", tenant).json()["traits"] == {"address": {"city": "Lima"}}
    assert roster.customer(tenant, "u1")["groups"] == ["42", "acme"]  # type: ignore[index]
    assert roster.get("/v1/groups/nope", tenant).status_code == 404


def test_memberships_follow_merges_and_go_with_deletes(roster: Harness) -> None:
    tenant = roster.tenant()
    _send(roster, tenant, "/v1/group", {"anonymousId": "a1", "groupId": "g1"})
    _send(roster, tenant, "/v1/identify", {"userId": "u1", "anonymousId": "a1", "traits": {}})
    roster.drain()
    assert roster.customer(tenant, "u1")["groups"] == ["g1"]  # type: ignore[index]
    assert roster.get("/v1/groups/g1", tenant).json()["members"] == 1
    roster.request("DELETE", "/api/v1/customers/u1", headers=tenant.auth)
    roster.drain()
    assert roster.get("/v1/groups/g1", tenant).json()["members"] == 0
