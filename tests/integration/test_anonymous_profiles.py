"""Anonymous profiles (Data Pipelines ``anonymousId``, Track API anonymous events): events and
traits sent with only an anonymous id are kept on a profile of their own, found again by it; an
identify naming both ids merges that profile with the person, journaled, on the timeline."""

from __future__ import annotations

from typing import Any

from roster_testkit import Harness, Tenant


def _send(roster: Harness, tenant: Tenant, path: str, body: dict[str, Any]) -> None:
    response = roster.request("POST", path, json=body, headers=tenant.auth)
    assert response.status_code == 200, response.text


def test_anonymous_activity_is_kept_then_merged_into_the_person(roster: Harness) -> None:
    tenant = roster.tenant()
    _send(roster, tenant, "/v1/track", {"anonymousId": "anon-1", "event": "Viewed"})
    _send(roster, tenant, "/v1/identify", {"anonymousId": "anon-1", "traits": {"lang": "es"}})
    _send(roster, tenant, "/api/v1/events", {"anonymous_id": "anon-1", "name": "Clicked"})
    roster.drain()
    anon = roster.get("/v1/customers", tenant, params={"anonymous_id": "anon-1"})
    assert anon.status_code == 200, anon.text
    profile = anon.json()
    assert profile["customer_id"] is None
    assert profile["attributes"] == {"anonymous_id": "anon-1", "lang": "es"}
    named = roster.get(f"/v1/uids/{profile['uid']}/events", tenant).json()["events"]
    assert sorted(e["name"] for e in named) == ["Clicked", "Viewed"]
    # The person signs up: identify with both ids.
    _send(
        roster,
        tenant,
        "/v1/identify",
        {"userId": "u1", "anonymousId": "anon-1", "traits": {"plan": "pro"}},
    )
    _send(roster, tenant, "/v1/track", {"anonymousId": "anon-1", "event": "Later"})
    roster.drain()
    person = roster.customer(tenant, "u1")
    assert person is not None
    assert person["attributes"] == {"anonymous_id": "anon-1", "lang": "es", "plan": "pro"}
    names = sorted(e["name"] for e in roster.events(tenant, "u1"))
    assert names == ["Clicked", "Later", "Viewed"]  # one person, one profile
    timeline = roster.get("/v1/customers/u1/timeline", tenant).json()["timeline"]
    assert "merged_in" in [entry["type"] for entry in timeline], timeline


def test_an_identified_person_keeps_later_anonymous_events(roster: Harness) -> None:
    """The person identified first with both ids: events sent later with the anonymous id
    alone are the person's."""
    tenant = roster.tenant()
    _send(roster, tenant, "/v1/identify", {"userId": "u2", "anonymousId": "a2", "traits": {}})
    _send(roster, tenant, "/v1/page", {"anonymousId": "a2", "name": "Pricing"})
    roster.drain()
    assert [e["name"] for e in roster.events(tenant, "u2")] == ["Pricing"]
    missing = roster.request("POST", "/v1/track", json={"event": "x"}, headers=tenant.auth)
    roster.drain()
    batch = roster.batch(tenant, missing.json()["batch_id"])
    assert batch["errors"][0]["code"] == "missing_field"


def test_alias_merges_the_previous_profile_into_the_person(roster: Harness) -> None:
    """``alias`` (previousId → userId): the previous id's profile, a person's or an anonymous
    one, is merged into the person's (kept, whatever their ages), journaled as ``alias``."""
    tenant = roster.tenant()
    _send(roster, tenant, "/v1/identify", {"userId": "old-id", "traits": {"plan": "pro"}})
    _send(roster, tenant, "/v1/track", {"userId": "old-id", "event": "Bought"})
    _send(roster, tenant, "/v1/track", {"anonymousId": "a7", "event": "Browsed"})
    roster.drain()
    old_uid = roster.customer(tenant, "old-id")["uid"]  # type: ignore[index]
    batch = roster.request(
        "POST",
        "/v1/batch",
        json={
            "batch": [
                {"type": "alias", "previousId": "old-id", "userId": "new-id"},
                {"type": "alias", "previousId": "a7", "userId": "new-id"},
                {"type": "alias", "previousId": "nobody", "userId": "new-id"},
                {"type": "track", "userId": "old-id", "event": "After"},
            ]
        },
        headers=tenant.auth,
    )
    assert batch.status_code == 200, batch.text
    roster.drain()
    ledger = roster.batch(tenant, batch.json()["batch_id"])
    assert ledger["counts"] == {"total": 4, "applied": 3, "skipped": 1, "failed": 0}
    assert ledger["warnings"][0]["code"] == "unknown_customer"
    person = roster.customer(tenant, "new-id")
    assert person is not None
    assert person["attributes"]["plan"] == "pro"
    assert sorted(e["name"] for e in roster.events(tenant, "new-id")) == ["Bought", "Browsed"]
    tomb = roster.get("/v1/customers", tenant, params={"uid": old_uid}).json()
    assert tomb["merged_into"] == person["uid"]
    # The freed old id names a new person: the later track in the same request made one.
    assert [e["name"] for e in roster.events(tenant, "old-id")] == ["After"]
