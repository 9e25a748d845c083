"""SPEC §2: no request can read or change another workspace's data, by any id."""

from __future__ import annotations

import json
from typing import Any

import pytest

from roster_testkit import Harness, Tenant, basic

ELEMENTS: list[dict[str, Any]] = [
    {"type": "customer", "customer_id": "alice",
     "attributes": {"name": "Alice", "email": "alice@example.com"}},
    {"type": "device", "customer_id": "alice", "device_id": "phone",
     "attributes": {"platform": "iOS", "push_id": "push-alice"}},
    {"type": "event", "customer_id": "alice", "actions": [{"action": "Purchase"}]},
]  # fmt: skip


def setup_a(roster: Harness) -> tuple[Tenant, Tenant, str]:
    """Workspace A with one applied batch holding alice; workspace B, empty."""
    a, b = roster.tenant("a"), roster.tenant("b")
    response = roster.transition(a, ELEMENTS)
    assert response.status_code == 200, response.text
    roster.drain()
    return a, b, response.json()["batch_id"]


def snapshot(roster: Harness, tenant: Tenant) -> dict[str, Any]:
    """Everything a user of the workspace can read about its data."""
    batches = roster.get("/v1/batches", tenant).json()["batches"]
    return {
        "batches": batches,
        "ledgers": [roster.batch(tenant, b["batch_id"]) for b in batches],
        "profile": roster.customer(tenant, "alice"),
        "events": roster.events(tenant, "alice"),
    }


def reads_of_a(a: Tenant, batch_id: str, uid: int) -> list[str]:
    return [
        f"/v1/batches/{batch_id}",
        "/v1/customers/alice",
        "/v1/customers/alice/events",
        "/v1/customers/alice/activity",
        f"/v1/customers?uid={uid}",
        "/v1/customers?email=alice@example.com",
    ]


def b_credentials(a: Tenant, b: Tenant) -> dict[str, str]:
    return {
        "basic-workspace-and-key": basic(b.id, b.key),
        "basic-key-blank-password": basic(b.key, ""),
        "bearer-key": f"Bearer {b.key}",
    }


FORMS = ["basic-workspace-and-key", "basic-key-blank-password", "bearer-key"]


@pytest.mark.parametrize("form", FORMS)
def test_reads_with_another_workspaces_credentials_are_404(roster: Harness, form: str) -> None:
    """Every read of A's batch or customer with B's credentials is 404 and shows none of A."""
    a, b, batch_id = setup_a(roster)
    profile = roster.customer(a, "alice")
    assert profile is not None
    auth = {"Authorization": b_credentials(a, b)[form]}
    for url in reads_of_a(a, batch_id, profile["uid"]):
        response = roster.request("GET", url, headers=auth)
        assert response.status_code == 404, (url, response.text)
        assert response.json()["error"]["code"] == "not_found"
        for secret in ("Alice", "alice@", "push-alice", "Purchase", a.id):
            assert secret not in response.text, url
    listed = roster.request("GET", "/v1/batches", headers=auth)
    assert listed.status_code == 200
    assert listed.json() == {"batches": [], "next": None}


def test_same_customer_id_in_two_workspaces_reads_each_ones_own(roster: Harness) -> None:
    """When B has its own 'alice', B's reads show B's alice only, never A's."""
    a, b, a_batch = setup_a(roster)
    mine = roster.transition(b, [{"type": "customer", "customer_id": "alice",
                                  "attributes": {"name": "Bob's Alice"}}])  # fmt: skip
    assert mine.status_code == 200
    roster.drain()
    seen = roster.customer(b, "alice")
    assert seen is not None
    assert seen["attributes"] == {"name": "Bob's Alice"}
    assert seen["devices"] == []
    assert roster.events(b, "alice") == []
    assert roster.get("/v1/customers/alice/activity", b).json() == {"events": []}
    assert roster.get("/v1/customers?email=alice@example.com", b).status_code == 404
    a_uid = roster.customer(a, "alice")["uid"]  # type: ignore[index]
    assert seen["uid"] != a_uid
    assert roster.get(f"/v1/customers?uid={a_uid}", b).status_code == 404
    assert roster.get(f"/v1/batches/{a_batch}", b).status_code == 404
    assert [x["batch_id"] for x in roster.get("/v1/batches", b).json()["batches"]] == [
        mine.json()["batch_id"]
    ]


@pytest.mark.parametrize("form", FORMS)
def test_write_to_another_workspace_is_403_and_changes_nothing(roster: Harness, form: str) -> None:
    """Posting to /v1/transition/{A} with B's key is 403; neither A nor B gains anything."""
    a, b, _ = setup_a(roster)
    before_a, before_b = snapshot(roster, a), roster.get("/v1/batches", b).json()
    hostile = [
        {"type": "customer", "customer_id": "alice", "attributes": {"name": "Mallory"}},
        {"type": "customer", "customer_id": "mallory", "attributes": {"name": "M"}},
    ]
    headers = {"Authorization": b_credentials(a, b)[form], "Content-Type": "application/json"}
    body = json.dumps({"type": "transition", "elements": hostile}).encode()
    for extra in ({}, {"Idempotency-Key": "steal"}):
        response = roster.request(
            "POST", f"/v1/transition/{a.id}", content=body, headers={**headers, **extra}
        )
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "workspace_mismatch"
    roster.drain()
    assert snapshot(roster, a) == before_a
    assert roster.get("/v1/batches", b).json() == before_b == {"batches": [], "next": None}
    assert roster.customer(a, "mallory") is None
    assert roster.customer(b, "mallory") is None
    assert roster.customer(b, "alice") is None


def test_a_workspace_id_with_another_workspaces_key_is_401(roster: Harness) -> None:
    """Basic A_id:B_key neither reads nor writes A's data (401)."""
    a, b, batch_id = setup_a(roster)
    before = snapshot(roster, a)
    auth = {"Authorization": basic(a.id, b.key)}
    assert roster.request("GET", f"/v1/batches/{batch_id}", headers=auth).status_code == 401
    assert roster.request("GET", "/v1/customers/alice", headers=auth).status_code == 401
    response = roster.request(
        "POST",
        f"/v1/transition/{a.id}",
        content=json.dumps({"type": "transition", "elements": ELEMENTS[:1]}).encode(),
        headers={**auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 401
    roster.drain()
    assert snapshot(roster, a) == before


OVERSIZED_UID = "/v1/customers?uid=99999999999999999999"
ODD_IDS = [
    pytest.param("/v1/batches/{batch}%00", id="batch-id-nul"),
    pytest.param("/v1/customers/alice%00", id="customer-id-nul"),
    pytest.param("/v1/customers/alice%00/events", id="events-customer-id-nul"),
    pytest.param("/v1/customers?email=alice@example.com%00", id="email-nul"),
    pytest.param("/v1/batches?kind=transition%00", id="kind-nul"),
    pytest.param("/v1/customers/%2e%2e%2fcustomers%2falice", id="customer-id-dot-dot"),
    pytest.param("/v1/customers/" + "a" * 5000, id="customer-id-5000-chars"),
    pytest.param("/v1/customers?uid=-1", id="uid-negative"),
    pytest.param(OVERSIZED_UID, id="uid-over-int64"),
]


@pytest.mark.parametrize("url", ODD_IDS)
def test_reads_by_odd_ids_never_crash_nor_leak(roster: Harness, url: str) -> None:
    """Reads by malformed ids (NUL, huge numbers, path tricks) answer 4xx, never A's data."""
    a, b, batch_id = setup_a(roster)
    for tenant in (a, b):
        response = roster.get(url.format(batch=batch_id), tenant)
        assert response.status_code in (200, 400, 404), response.text
        if response.status_code == 200:
            assert response.json() == {"batches": [], "next": None}
        else:
            assert response.json()["status"] == "fail"
        if tenant is b:
            assert "Alice" not in response.text
