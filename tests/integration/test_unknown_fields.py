"""A field inside an element that neither the vendor nor Roster knows is ignored, as the vendors
ignore extras, but never silently: the ledger warns of it (``unknown_field``, naming it), so a
typo such as ``attrs`` shows; the element applies without it, and documented fields Roster does
not use are not warned of."""

from __future__ import annotations

from roster_testkit import Harness


def test_a_misspelt_element_field_is_warned_of_by_name(roster: Harness) -> None:
    tenant = roster.tenant()
    response = roster.transition(
        tenant,
        [
            {"type": "customer", "customer_id": "c1", "attrs": {"plan": "pro"}},
            {
                "type": "event",
                "customer_id": "c1",
                "actions": [{"action": "Opened", "atributes": {"x": 1}, "platform": "iOS"}],
            },
            {
                "type": "customer",
                "customer_id": "c2",
                "attributes": {"plan": "free"},
                "unset_attributes": [],  # documented by MoEngage: known, not warned of
            },
        ],
    )
    assert response.status_code == 200, response.text
    roster.drain()
    batch = roster.batch(tenant, response.json()["batch_id"])
    assert batch["counts"] == {"total": 3, "applied": 3, "skipped": 0, "failed": 0}
    warned = [(w["index"], w["field"], w["code"]) for w in batch["warnings"]]
    assert warned == [(0, "attrs", "unknown_field"), (1, "actions[0].atributes", "unknown_field")]
    assert "attrs" in batch["warnings"][0]["message"]
    assert roster.customer(tenant, "c1")["attributes"] == {}  # type: ignore[index]
    events = roster.events(tenant, "c1")
    assert [(e["name"], e["platform"], e["attributes"]) for e in events] == [("Opened", "iOS", {})]


def test_a_misspelt_data_pipelines_field_is_warned_of_by_name(roster: Harness) -> None:
    """``trats`` for ``traits``: the identify applies without it and the ledger names it; the
    Segment spec's other fields (``context``, ``integrations``, ``sentAt``) are taken quietly."""
    tenant = roster.tenant()
    calls = [
        {"type": "identify", "userId": "u1", "trats": {"plan": "pro"}, "context": {"ip": "1"}},
        {"type": "track", "userId": "u1", "event": "e", "integrations": {}, "sentAt": "x"},
    ]
    response = roster.request("POST", "/v1/batch", json={"batch": calls}, headers=tenant.auth)
    assert response.status_code == 200, response.text
    single = roster.request(
        "POST", "/v1/identify", json={"userId": "u2", "trait": {"a": 1}}, headers=tenant.auth
    )
    roster.drain()
    batch = roster.batch(tenant, response.json()["batch_id"])
    assert batch["counts"]["applied"] == 2
    assert [(w["index"], w["field"], w["code"]) for w in batch["warnings"]] == [
        (0, "trats", "unknown_field")
    ]
    one = roster.batch(tenant, single.json()["batch_id"])
    assert [(w["field"], w["code"]) for w in one["warnings"]] == [("trait", "unknown_field")]


def test_a_value_cut_short_is_said_and_errors_quote_excerpts(roster: Harness) -> None:
    """An over-long ``app_version`` is stored cut to 255 characters with a warning; a huge
    wrong value is quoted in a bounded excerpt, never whole."""
    tenant = roster.tenant()
    huge = "x" * 90_000
    response = roster.transition(
        tenant,
        [
            {
                "type": "event",
                "customer_id": "c1",
                "actions": [{"action": "Opened", "app_version": "9" * 300, "platform": huge}],
            }
        ],
    )
    roster.drain()
    batch = roster.batch(tenant, response.json()["batch_id"])
    warned = {w["field"]: w for w in batch["warnings"]}
    assert warned["actions[0].app_version"]["code"] == "value_too_long"
    assert len(warned["actions[0].platform"]["message"]) < 200
    (event,) = roster.events(tenant, "c1")
    assert event["app_version"] == "9" * 255


def test_a_misspelt_masivo_customer_field_is_warned_of_by_name(roster: Harness) -> None:
    """``emial`` for ``email``: the customer migrates without it and the ledger names it."""
    tenant = roster.tenant()
    entry = {"id": "m1", "name": "Ada", "emial": "ada@example.com"}
    batch_id = roster.migrate(tenant, "/customers/migrate", {"customers": [entry]})
    batch = roster.batch(tenant, batch_id)
    assert batch["counts"]["applied"] == 1
    assert [(w["field"], w["code"]) for w in batch["warnings"]] == [
        ("customers[0].emial", "unknown_field")
    ]
    assert roster.customer(tenant, "m1")["attributes"] == {"name": "Ada"}  # type: ignore[index]
