"""Customer.io's Track API v2 (``/api/v2/batch``, ``/api/v2/entity``): operations of every
action in one request, applied in order by the rules of the v1 call of the same name; an
invalid or unsupported operation is failed or skipped in the ledger, the others applied."""

from __future__ import annotations

from typing import Any

from roster_testkit import Harness, Tenant


def _person(action: str, identifiers: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"type": "person", "action": action, "identifiers": identifiers, **fields}


def _accepted(roster: Harness, tenant: Tenant, path: str, body: Any) -> dict[str, Any]:
    response = roster.request("POST", path, json=body, headers=tenant.auth)
    assert response.status_code == 200, response.text
    roster.drain()
    return roster.batch(tenant, response.json()["batch_id"])


def test_a_batch_mixing_actions_applies_them_in_order(roster: Harness) -> None:
    tenant = roster.tenant()
    ada, grace = {"id": "ada"}, {"id": "grace"}
    operations = [
        _person("identify", ada, attributes={"plan": "pro", "email": "ada@example.com"}),
        _person("event", ada, name="purchased", id="01J0000000000000000000000A", attributes={}),
        _person("event", ada, name="purchased", id="01J0000000000000000000000A"),  # a retry
        _person("page", {"email": "ada@example.com"}, name="https://example.com/pricing"),
        _person("add_device", ada, device={"token": "tok-1", "platform": "ios", "model": "15"}),
        _person("add_device", ada, device={"token": "tok-2", "platform": "android"}),
        _person("delete_device", ada, device={"token": "tok-2"}),
        _person("identify", grace, attributes={"plan": "free", "team": "blue"}),
        _person("screen", grace, name="Home"),
        {"type": "person", "action": "merge", "primary": ada, "secondary": grace},
        _person("identify", {"id": "temp"}, attributes={"x": 1}),
        _person("delete", {"id": "temp"}),
    ]
    batch = _accepted(roster, tenant, "/api/v2/batch", {"batch": operations})
    assert batch["kind"] == "customerio.v2"
    assert batch["counts"]["failed"] == 0, batch
    assert [(w["index"], w["code"]) for w in batch["warnings"]] == [(2, "duplicate_ignored")]
    assert batch["effects"]["created"] >= 7
    profile = roster.customer(tenant, "ada")
    assert profile is not None
    assert profile["attributes"]["plan"] == "pro"  # the primary keeps its values
    assert profile["attributes"]["team"] == "blue"  # and gains those it lacked
    assert [d["device_id"] for d in profile["devices"]] == ["tok-1"]
    names = sorted(e["name"] for e in roster.events(tenant, "ada"))
    assert names == ["Home", "https://example.com/pricing", "purchased"]
    assert roster.customer(tenant, "grace") is None  # merged away
    assert roster.customer(tenant, "temp") is None  # deleted


def test_invalid_and_unsupported_operations_go_to_the_ledger(roster: Harness) -> None:
    tenant = roster.tenant()
    operations = [
        _person("identify", {"id": "ada"}, attributes={"plan": "pro"}, atributes={"x": 1}),
        _person("identify", {"cio_id": "a1b2"}, attributes={"plan": "pro"}),
        {"type": "object", "action": "identify", "identifiers": {"object_type_id": "1"}},
        _person("add_relationships", {"id": "ada"}, cio_relationships=[]),
        _person("fly", {"id": "ada"}),
        _person("event", {"id": "ada"}),  # no name
        _person("add_device", {"id": "ada"}, device={"token": "t", "platform": "windows"}),
        _person("identify", {"id": "ada", "email": "a@example.com"}),
        _person("suppress", {"id": "nobody"}),  # kept out, though no one holds it yet
        _person("unsuppress", {"id": "nobody"}),
    ]
    batch = _accepted(roster, tenant, "/api/v2/batch", {"batch": operations})
    issues = {(i["index"], i["code"], i["field"]) for i in batch["errors"] + batch["warnings"]}
    assert issues == {
        (0, "unknown_field", "atributes"),
        (1, "not_supported", "identifiers.cio_id"),
        (2, "not_supported", "type"),
        (3, "not_supported", "action"),
        (4, "invalid_field", "action"),
        (5, "missing_field", "name"),
        (6, "invalid_field", "device.platform"),
        (7, "invalid_field", "identifiers"),
    }
    assert batch["counts"] == {"total": 10, "applied": 3, "skipped": 3, "failed": 4}
    profile = roster.customer(tenant, "ada")
    assert profile is not None
    assert profile["attributes"] == {"plan": "pro"}


def test_an_entity_is_one_operation_and_the_envelope_is_checked_at_the_door(
    roster: Harness,
) -> None:
    tenant = roster.tenant()
    batch = _accepted(
        roster,
        tenant,
        "/api/v2/entity",
        _person("identify", {"email": "Bo@Example.com"}, attributes={"plan": "pro", "id": "bo"}),
    )
    assert batch["counts"]["applied"] == 1, batch
    profile = roster.customer(tenant, "bo")
    assert profile is not None
    assert profile["attributes"]["plan"] == "pro"
    for path, body, field in (
        ("/api/v2/batch", {"batch": []}, "batch"),
        ("/api/v2/batch", {"operations": []}, "batch"),
        ("/api/v2/batch", {"batch": [1]}, "batch[0]"),
        ("/api/v2/entity", [1], "$"),
    ):
        refused = roster.request("POST", path, json=body, headers=tenant.auth)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["field"] == field
