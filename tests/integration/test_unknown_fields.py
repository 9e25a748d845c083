"""A field inside an element that neither the vendor nor Roster knows is ignored, as the vendors
ignore extras, but never silently: the ledger warns of it (``unknown_field``, naming it), so a
typo such as ``attrs`` shows; the element applies without it, and documented fields Roster does
not use are not warned of."""

from __future__ import annotations

import json
from typing import Any

from roster_testkit import Harness, Tenant


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


REWARD = "3f0c8a52-9c1e-4a57-9d43-6f0e3d0b2a11"
ISSUED = "2024-12-10T20:58:01.965Z"


def _migrated(roster: Harness, tenant: Tenant, *ids: str, points: int = 0) -> None:
    balance = [{"reward_id": REWARD, "amount": points}] if points else []
    customers = [{"id": cid, "balance": balance} for cid in ids]
    batch = roster.batch(
        tenant, roster.migrate(tenant, "/customers/migrate", {"customers": customers})
    )
    assert batch["counts"]["applied"] == len(ids), batch


def _purchase(pid: str, **extra: Any) -> dict[str, Any]:
    order = {"purchase_id": pid, "value": 10, **extra.pop("order", {})}
    return {"type": "PURCHASE", "order": order, "issued_at": ISSUED, **extra}


def test_misspelt_masivo_event_fields_are_warned_of_by_name(roster: Harness) -> None:
    """A field of an events body's customer, of an event or of its order that Masivo does not
    document is warned of by name (``unknown_field``) and the event still applies; the
    fields Masivo documents and Roster does not use (``brand_id``, ``discounted_value``, ...)
    are taken quietly. A typo that costs the event a field it needs (``purchaseid``) fails
    it as before, and the warning says why."""
    tenant = roster.tenant()
    _migrated(roster, tenant, "m1", "m2")
    documented = _purchase(
        "p1",
        order={"discounted_value": 9, "products": [], "shipping": {}, "metadata": {}},
        fulfilled=True,
        resolved_at=ISSUED,
        brand_id="b",
        channel_id="c",
        store_id="s",
    )
    body = {
        "customers": [
            {"id": "m1", "note": "x", "events": [documented, _purchase("p2", attrs={"a": 1})]},
            {"id": "m2", "events": [_purchase("p3", order={"purchaseid": "p3"})]},
        ]
    }
    body["customers"][1]["events"][0]["order"].pop("purchase_id")
    batch = roster.batch(tenant, roster.migrate(tenant, "/customers/migrate/events", body))
    assert batch["counts"] == {"total": 3, "applied": 2, "skipped": 0, "failed": 1}
    warned = [(w["index"], w["key"], w["field"], w["code"]) for w in batch["warnings"]]
    assert warned == [
        (0, "m1", "customers[0].note", "unknown_field"),
        (1, "m1", "customers[0].events[1].attrs", "unknown_field"),
        (2, "m2", "customers[1].events[0].order.purchaseid", "unknown_field"),
    ]
    assert "'attrs'" in batch["warnings"][1]["message"]
    assert [e["field"] for e in batch["errors"]] == ["customers[1].events[0].order.purchase_id"]
    assert len(roster.events(tenant, "m1")) == 2


def test_misspelt_masivo_transaction_fields_are_warned_of_by_name(roster: Harness) -> None:
    """The same for a transactions body, its customers and their transactions, and for a live
    transaction; ``cost``, ``funded_by``, ``brand_id`` and ``event`` are documented."""
    tenant = roster.tenant()
    _migrated(roster, tenant, "m1", "m2", points=30)
    first = {"type": "ACCUMULATION", "amount": 20, "reward_id": REWARD, "cost": 1}
    second = {"type": "ACCUMULATION", "amount": 10, "reward_id": REWARD, "amout": 10}
    documented = {"funded_by": "brand", "brand_id": "b", "event": {"type": "PURCHASE"}}
    body = {
        "customers": [
            {"id": "m1", "transactions": [{**first, **documented}, second]},
            {"id": "m2", "transaction": [], "transactions": []},
        ]
    }
    batch = roster.batch(tenant, roster.migrate(tenant, "/customers/migrate/transactions", body))
    assert batch["counts"]["applied"] == 2
    warned = [(w["index"], w["field"], w["code"]) for w in batch["warnings"]]
    assert (1, "customers[0].transactions[1].amout", "unknown_field") in warned
    assert (1, "customers[1].transaction", "unknown_field") in warned
    assert not [w for w in warned if "transactions[0]" in w[1]]
    live = {"type": "REDEMPTION", "amount": -5, "reward_id": REWARD, "reson": "gift"}
    one = roster.batch(tenant, roster.live_transaction(tenant, "m1", live))
    assert one["counts"]["applied"] == 1
    assert [(w["field"], w["code"]) for w in one["warnings"]] == [
        ("transaction.reson", "unknown_field")
    ]


HUGE = "x" * 90_000


def _short(text: str | None) -> bool:
    return text is not None and len(text) < 500


def test_a_90000_character_value_is_quoted_in_excerpts_at_the_moengage_door(
    roster: Harness,
) -> None:
    """Error bodies quote a huge value in an excerpt and still name the field: a wrong
    ``type`` of a transition, of an element, of a single element, a duplicate key."""
    tenant = roster.tenant()
    bodies = [
        json.dumps({"type": HUGE, "elements": []}).encode(),
        json.dumps({"type": "transition", "elements": [{"type": HUGE}]}).encode(),
        # a duplicate key, twice in a body of at most 100 KB
        b'{"type": "transition", "elements": [{"type": "customer", "%s": 1, "%s": 2}]}'
        % (HUGE[:45_000].encode(), HUGE[:45_000].encode()),
    ]
    for body in bodies:
        response = roster.post_raw(tenant, body)
        assert response.status_code == 400, response.text[:300]
        assert len(response.content) < 1000, response.text[:300]
        error = response.json()["error"]
        assert _short(error["message"]), error
        assert _short(error["field"]), error
    single = roster.request(
        "POST",
        f"/v1/event/{tenant.id}",
        content=json.dumps({"type": HUGE, "customer_id": "c1", "actions": []}).encode(),
        headers=tenant.json_auth,
    )
    assert single.status_code == 400, single.text[:300]
    assert len(single.content) < 1000
    assert single.json()["error"]["field"] == "type"


def test_a_90000_character_value_is_quoted_in_excerpts_in_the_moengage_ledger(
    roster: Harness,
) -> None:
    """The ledger quotes a huge attribute name, unknown field, platform or identifier in an
    excerpt, and still names the field; an ``app_version`` that is not text is left out and
    said so."""
    tenant = roster.tenant()
    elements = [  # one a request: a MoEngage body holds at most 100 KB
        {"type": "customer", "customer_id": "c1", "attributes": {HUGE: 1}},
        {"type": "customer", "customer_id": "c1", HUGE: 2},
        {"type": "customer", "customer_id": "c2", "platforms": [{"platform": HUGE}]},
        {"type": "event", "customer_id": "c1", "actions": [{"action": "Opened", HUGE: 1}]},
        {"type": "event", "customer_id": "c1", "actions": [{"action": "Opened", "x": HUGE}]},
        {
            "type": "event",
            "customer_id": "c1",
            "actions": [{"action": "Opened", "app_version": {"v": 1}, "platform": HUGE}],
        },
    ]
    issues = []
    for element in elements:
        response = roster.transition(tenant, [element])
        assert response.status_code == 200, response.text[:300]
        roster.drain()
        batch = roster.batch(tenant, response.json()["batch_id"])
        assert batch["counts"]["applied"] == 1, batch["errors"]
        issues += batch["warnings"] + batch["errors"]
    assert all(_short(i["message"]) for i in issues), issues
    assert all(_short(i["field"]) for i in issues), issues
    fields = [(i["code"], i["field"][:16]) for i in issues]
    assert fields == [
        ("invalid_attribute_name", "attributes.xxxxx"),
        ("unknown_field", "xxxxxxxxxxxxxxxx"),
        ("invalid_platform", "attributes.platf"),
        ("unknown_field", "actions[0].xxxxx"),
        ("unknown_field", "actions[0].x"),
        ("invalid_platform", "actions[0].platf"),
        ("invalid_field", "actions[0].app_v"),
    ]
    assert all(e["app_version"] is None for e in roster.events(tenant, "c1"))


def test_a_90000_character_value_is_quoted_in_excerpts_at_the_masivo_door_and_ledger(
    roster: Harness,
) -> None:
    """The Masivo door refuses a huge id without echoing it; the ledger quotes a huge
    email, amount or field name in an excerpt, and names the field."""
    tenant = roster.tenant()
    refused = roster.masivo(tenant, "/customers/migrate", {"customers": [{"id": HUGE}]})
    assert refused.status_code == 422
    assert len(refused.content) < 1000
    assert refused.json()["field"] == "customers[0].id"
    twice = HUGE.encode()
    duplicate = b'{"customers": [{"id": "a", "%s": 1, "%s": 2}]}' % (twice, twice)
    refused = roster.masivo(tenant, "/customers/migrate", duplicate)
    assert refused.status_code == 422, refused.text[:300]
    assert len(refused.content) < 1000, refused.text[:300]
    email = HUGE + "@example.com"
    customers = [{"id": "m1", "email": email}, {"id": "m2", "email": email, HUGE: 1}]
    batch = roster.batch(
        tenant, roster.migrate(tenant, "/customers/migrate", {"customers": customers})
    )
    events = {
        "customers": [
            {
                "id": "m1",
                "events": [_purchase("p1", order={"value": HUGE}), {**_purchase("p2"), HUGE: 1}],
            }
        ]
    }
    ledger = roster.batch(tenant, roster.migrate(tenant, "/customers/migrate/events", events))
    issues = [i for b in (batch, ledger) for i in b["warnings"] + b["errors"]]
    assert all(_short(i["message"]) and _short(i["field"]) for i in issues), issues
    codes = {(i["code"], i["field"].split(".")[-1][:5]) for i in issues}
    assert ("email_taken", "email") in codes
    assert ("invalid_field", "value") in codes
    assert ("unknown_field", "xxxxx") in codes


def test_platforms_sent_twice_keep_the_top_level_ones_and_say_so(roster: Harness) -> None:
    """A MoEngage customer with ``platforms`` both at the top level (Track User) and inside
    ``attributes`` (the Bulk Import sample) keeps the top-level list; the other is warned of."""
    tenant = roster.tenant()
    top = [{"platform": "ANDROID", "active": "true"}]
    inside = [{"platform": "iOS", "active": "true"}]
    element = {"type": "customer", "customer_id": "c1", "platforms": top}
    response = roster.transition(tenant, [{**element, "attributes": {"platforms": inside}}])
    roster.drain()
    batch = roster.batch(tenant, response.json()["batch_id"])
    assert [(w["field"], w["code"]) for w in batch["warnings"]] == [
        ("attributes.platforms", "invalid_attribute_value")
    ]
    profile = roster.customer(tenant, "c1")
    assert profile is not None
    assert profile["attributes"]["platforms"] == [{"platform": "ANDROID", "active": True}]
