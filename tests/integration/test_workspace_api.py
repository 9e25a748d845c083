"""A workspace's own settings over the API: read them, change identity resolution."""

from __future__ import annotations

from roster_testkit import Harness


def test_a_key_reads_its_own_workspace_settings(roster: Harness) -> None:
    """GET /v1/workspace shows the caller's workspace, its identifiers and limits, and the most
    one request of each surface may hold."""
    tenant = roster.tenant()
    response = roster.get("/v1/workspace", tenant)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "workspace_id": tenant.id,
        "name": "test",
        "identity_resolution": False,
        "identifiers": ["email", "moe_mobile"],
        "limits": {"users_per_minute": None, "events_per_minute": None, "merges_per_minute": None},
        "tiers": [],
        "requests": {
            "moengage_transition": {"max_bytes": 102_400},
            "customerio_batch": {"max_bytes": 512_000},
            "customerio_call": {"max_bytes": 102_400},
            "people_csv": {"max_bytes": 104_857_600},
            "masivo": {"max_bytes": 10_485_760, "max_customers": 1000},
            "moengage_merge": {"max_bytes": 131_072, "max_pairs": 50},
        },
    }


def test_identity_resolution_is_switched_on_through_the_api(roster: Harness) -> None:
    """PATCH /v1/workspace turns identity resolution on with chosen identifiers; it applies to
    the next batch."""
    tenant = roster.tenant()
    body = {"identity_resolution": True, "identifiers": ["email"]}
    response = roster.request("PATCH", "/v1/workspace", json=body, headers=tenant.auth)
    assert response.status_code == 200, response.text
    assert response.json()["identity_resolution"] is True
    assert response.json()["identifiers"] == ["email"]
    roster.transition(tenant, [{"type": "customer", "attributes": {"email": "a@b.io"}}])
    roster.drain()
    found = roster.get("/v1/customers", tenant, params={"email": "a@b.io"})
    assert found.status_code == 200, found.text


def test_rate_limits_cannot_be_changed_with_a_data_key(roster: Harness) -> None:
    """A workspace's key cannot lift its own rate limits: the field is refused, nothing changes."""
    tenant = roster.tenant(limits="vendor")
    body = {"limits": "none"}
    response = roster.request("PATCH", "/v1/workspace", json=body, headers=tenant.auth)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "limits"
    assert roster.get("/v1/workspace", tenant).json()["limits"]["users_per_minute"] == 10_000


def test_bad_settings_are_refused_naming_the_field(roster: Harness) -> None:
    """A wrong type or a system attribute as identifier is refused, naming the field."""
    tenant = roster.tenant()
    for body, status in (
        ({"identity_resolution": "yes"}, 400),
        ({"identifiers": ["uid"]}, 422),
        ({"identifiers": "email"}, 400),
    ):
        response = roster.request("PATCH", "/v1/workspace", json=body, headers=tenant.auth)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["field"] in ("identity_resolution", "identifiers"), body
    assert roster.get("/v1/workspace", tenant).json()["identifiers"] == ["email", "moe_mobile"]


def test_another_workspace_is_never_changed(roster: Harness) -> None:
    """PATCH with B's key changes B only."""
    a, b = roster.tenant("a"), roster.tenant("b")
    body = {"identity_resolution": True}
    roster.request("PATCH", "/v1/workspace", json=body, headers=b.auth)
    assert roster.get("/v1/workspace", a).json()["identity_resolution"] is False
    assert roster.get("/v1/workspace", b).json()["identity_resolution"] is True
