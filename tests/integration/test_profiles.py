"""Profiles built by transitions: devices and reachability, event times, identity resolution."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from roster.services.admin import workspace_admin
from roster.store.schema import customers
from roster_testkit import Harness, Tenant


def _customer(cid: str, **attributes: Any) -> dict[str, Any]:
    return {"type": "customer", "customer_id": cid, "attributes": attributes}


def _device(cid: str, did: str, **attributes: Any) -> dict[str, Any]:
    return {"type": "device", "customer_id": cid, "device_id": did, "attributes": attributes}


def _apply(roster: Harness, tenant: Tenant, elements: list[dict[str, Any]]) -> dict[str, Any]:
    response = roster.transition(tenant, elements)
    assert response.status_code == 200, response.text
    roster.drain()
    return roster.batch(tenant, response.json()["batch_id"])


def test_a_device_makes_its_customer_reachable(roster: Harness) -> None:
    """A customer with a device holding a push id is reachable; the platform is canonical."""
    tenant = roster.tenant()
    batch = _apply(
        roster,
        tenant,
        [_customer("c1"), _device("c1", "d1", platform="android", push_id="tok", model="Pixel")],
    )
    assert batch["counts"]["applied"] == 2
    profile = roster.customer(tenant, "c1")
    assert profile is not None
    assert profile["reachable"] is True
    (device,) = profile["devices"]
    assert (device["device_id"], device["platform"], device["push_id"]) == ("d1", "ANDROID", "tok")
    assert device["attributes"] == {"model": "Pixel"}


def test_an_opted_out_device_does_not_make_its_customer_reachable(roster: Harness) -> None:
    """moe_push_opted 'False' marks the device opted out; the customer is not reachable."""
    tenant = roster.tenant()
    device = _device("c1", "d1", platform="iOS", push_id="tok", moe_push_opted="False")
    _apply(roster, tenant, [_customer("c1"), device])
    profile = roster.customer(tenant, "c1")
    assert profile is not None
    assert profile["reachable"] is False
    assert profile["devices"][0]["push_opted_out"] is True


def test_a_device_moves_to_the_customer_that_last_claimed_it(roster: Harness) -> None:
    """The same device_id sent for another customer moves the device there."""
    tenant = roster.tenant()
    _apply(roster, tenant, [_customer("c1"), _device("c1", "d1", platform="web", push_id="t1")])
    _apply(roster, tenant, [_customer("c2"), _device("c2", "d1", platform="web", push_id="t2")])
    old, new = roster.customer(tenant, "c1"), roster.customer(tenant, "c2")
    assert old is not None
    assert new is not None
    assert old["devices"] == []
    assert old["reachable"] is False
    assert [d["push_id"] for d in new["devices"]] == ["t2"]


def test_a_device_without_push_id_or_platform_fails_with_its_field(roster: Harness) -> None:
    """A device missing push_id, or with an unknown platform, fails naming the field."""
    tenant = roster.tenant()
    batch = _apply(
        roster,
        tenant,
        [
            _customer("c1"),
            _device("c1", "d1", platform="web"),
            _device("c1", "d2", platform="PS5", push_id="x"),
        ],
    )
    errors = [(e["index"], e["field"], e["code"]) for e in batch["errors"]]
    assert errors == [
        (1, "attributes.push_id", "missing_field"),
        (2, "attributes.platform", "invalid_platform"),
    ]


def _event_times(roster: Harness, **action: Any) -> dict[str, Any]:
    tenant = roster.tenant()
    element = {"type": "event", "customer_id": "c1", "actions": [{"action": "x", **action}]}
    batch = _apply(roster, tenant, [element])
    assert batch["counts"]["applied"] == 1, batch
    (event,) = roster.events(tenant, "c1")
    return event


def test_event_times_in_all_three_forms_agree(roster: Harness) -> None:
    """ISO-8601, epoch seconds and epoch milliseconds (number or string) name the same instant."""
    for value in ("2024-04-08T09:09:45Z", 1712567385, "1712567385", 1712567385000):
        event = _event_times(roster, current_time=value)
        assert event["occurred_at"] == "2024-04-08T09:09:45.000Z", value


def test_user_time_and_offset_derive_the_utc_time(roster: Harness) -> None:
    """Only user_time and an offset of 19800 s (IST): the UTC time is 5.5 hours earlier."""
    event = _event_times(roster, user_time="2024-04-08T14:39:45", user_timezone_offset=19800)
    assert event["occurred_at"] == "2024-04-08T09:09:45.000Z"
    assert event["local_time"] == "2024-04-08T14:39:45.000Z"
    assert event["user_timezone_offset"] == 19800


def test_an_event_without_time_happens_when_received(roster: Harness) -> None:
    """An action with no time is stored at its receive time and may trigger campaigns."""
    event = _event_times(roster)
    assert event["occurred_at"] == event["received_at"]
    assert event["can_trigger"] is True


def test_an_out_of_range_offset_fails_the_event_element(roster: Harness) -> None:
    """user_timezone_offset outside -54000..54000 fails the element, naming the field."""
    tenant = roster.tenant()
    action = {"action": "x", "current_time": int(time.time()), "user_timezone_offset": 60000}
    batch = _apply(roster, tenant, [{"type": "event", "customer_id": "c1", "actions": [action]}])
    assert batch["counts"]["failed"] == 1
    assert batch["errors"][0]["field"] == "actions[0].user_timezone_offset"
    assert batch["errors"][0]["code"] == "invalid_timestamp"
    assert roster.customer(tenant, "c1") is None  # a failed event element creates nobody


def test_identity_resolution_finds_customers_by_identifier(roster: Harness) -> None:
    """With identity resolution on, a customer sent with only an email is created, and an event
    naming that email through user_identifiers lands on it."""
    tenant = roster.tenant(identity_resolution=True, identifiers=["email", "moe_mobile"])
    customer = {"type": "customer", "attributes": {"email": "ana@example.com", "name": "Ana"}}
    event = {
        "type": "event",
        "user_identifiers": {"email": "ana@example.com"},
        "actions": [{"action": "opened"}],
    }
    batch = _apply(roster, tenant, [customer, event])
    assert batch["counts"] == {"total": 2, "applied": 2, "skipped": 0, "failed": 0}
    found = roster.get("/v1/customers", tenant, params={"email": "ana@example.com"})
    assert found.status_code == 200
    profile = found.json()
    assert profile["customer_id"] is None
    assert profile["attributes"]["name"] == "Ana"
    assert profile["identifiers"] == {"email": "ana@example.com"}
    by_uid = roster.get("/v1/customers", tenant, params={"uid": profile["uid"]}).json()
    assert by_uid["uid"] == profile["uid"]


def test_identity_resolution_updates_the_existing_customer(roster: Harness) -> None:
    """A later customer element carrying the same identifier updates the same profile."""
    tenant = roster.tenant(identity_resolution=True, identifiers=["moe_mobile"])
    first = {"type": "customer", "attributes": {"moe_mobile": "+911234", "plan": "free"}}
    second = {"type": "customer", "attributes": {"moe_mobile": "+911234", "plan": "pro"}}
    _apply(roster, tenant, [first])
    _apply(roster, tenant, [second])
    found = roster.get("/v1/customers", tenant, params={"moe_mobile": "+911234"}).json()
    assert found["attributes"]["plan"] == "pro"


def test_without_identity_resolution_a_customer_needs_its_id(roster: Harness) -> None:
    """With identity resolution off, a customer element without customer_id fails."""
    tenant = roster.tenant()
    batch = _apply(roster, tenant, [{"type": "customer", "attributes": {"email": "a@b.c"}}])
    assert [(e["field"], e["code"]) for e in batch["errors"]] == [("customer_id", "missing_field")]


def test_email_identifiers_are_compared_case_insensitively(roster: Harness) -> None:
    """'Ana@Example.com' and 'ana@example.com' find the same customer."""
    tenant = roster.tenant(identity_resolution=True, identifiers=["email"])
    first = {"type": "customer", "attributes": {"email": "Ana@Example.com", "plan": "free"}}
    second = {"type": "customer", "attributes": {"email": "ana@example.com ", "plan": "pro"}}
    _apply(roster, tenant, [first])
    _apply(roster, tenant, [second])
    found = roster.get("/v1/customers", tenant, params={"email": "ANA@example.com"})
    assert found.status_code == 200
    assert found.json()["attributes"]["plan"] == "pro"


def test_a_customer_named_by_event_and_found_by_identifier_is_updated(roster: Harness) -> None:
    """An event naming a customer by id and a customer element finding it by email, in one
    batch, update that one profile."""
    tenant = roster.tenant(identity_resolution=True, identifiers=["email"])
    _apply(roster, tenant, [_customer("c1", email="ana@example.com", plan="free")])
    event = {"type": "event", "customer_id": "c1", "actions": [{"action": "opened"}]}
    update = {"type": "customer", "attributes": {"email": "ana@example.com", "plan": "pro"}}
    batch = _apply(roster, tenant, [event, update])
    assert batch["counts"]["applied"] == 2, batch
    profile = roster.customer(tenant, "c1")
    assert profile is not None
    assert profile["attributes"]["plan"] == "pro"
    assert [e["name"] for e in roster.events(tenant, "c1")] == ["opened"]


def test_a_shared_identifier_merges_the_newer_profile_into_the_older(roster: Harness) -> None:
    """With identity resolution on, a second customer taking an email another customer holds
    is merged into the older one (an identity_merged warning says so); ?email= finds it."""
    tenant = roster.tenant(identity_resolution=True, identifiers=["email"])
    _apply(roster, tenant, [_customer("old", email="x@example.com")])
    batch = _apply(roster, tenant, [_customer("new", email="x@example.com", plan="pro")])
    assert [(w["index"], w["field"], w["code"]) for w in batch["warnings"]] == [
        (0, "attributes.email", "identity_merged")
    ]
    found = roster.get("/v1/customers", tenant, params={"email": "x@example.com"}).json()
    assert found["customer_id"] == "old"
    assert found["attributes"] == {"email": "x@example.com", "plan": "pro"}
    assert [m["customer_id"] for m in found["merged_in"]] == ["new"]
    assert roster.customer(tenant, "new") is None


def test_a_changed_identifier_no_longer_finds_the_customer(roster: Harness) -> None:
    """After a customer's email changes, an event naming the old email creates a new customer,
    whether the two batches are applied together or apart."""
    for together in (True, False):
        tenant = roster.tenant(identity_resolution=True, identifiers=["email"])
        _apply(roster, tenant, [_customer("a", email="old@example.com")])
        change = [_customer("a", email="new@example.com")]
        event = {
            "type": "event",
            "user_identifiers": {"email": "old@example.com"},
            "actions": [{"action": "opened"}],
        }
        if together:
            roster.transition(tenant, change)
            roster.transition(tenant, [event])
            roster.drain()
        else:
            _apply(roster, tenant, change)
            _apply(roster, tenant, [event])
        assert roster.events(tenant, "a") == [], together
        other = roster.get("/v1/customers", tenant, params={"email": "old@example.com"}).json()
        assert other["customer_id"] is None, together
        assert (
            roster.get("/v1/customers", tenant, params={"email": "new@example.com"}).json()[
                "customer_id"
            ]
            == "a"
        )


def test_changing_the_identifier_list_reindexes_existing_customers(roster: Harness) -> None:
    """Customers stored before an attribute became an identifier are found by it afterwards."""
    tenant = roster.tenant()
    _apply(roster, tenant, [_customer("c1", phone="555-0100")])
    assert roster.get("/v1/customers", tenant, params={"phone": "555-0100"}).status_code == 400
    workspace_admin.configure(roster.db, tenant.id, identifiers=["email", "phone"])
    found = roster.get("/v1/customers", tenant, params={"phone": "555-0100"})
    assert found.status_code == 200, found.text
    assert found.json()["customer_id"] == "c1"


def test_a_uid_is_never_reused(roster: Harness) -> None:
    """A customer created after the newest one was deleted gets a new, higher uid."""
    tenant = roster.tenant()
    _apply(roster, tenant, [_customer("a"), _customer("b")])
    b = roster.customer(tenant, "b")
    assert b is not None
    with roster.db.write() as conn:  # as a purge or a revert will
        conn.execute(sa.delete(customers).where(customers.c.uid == b["uid"]))
    _apply(roster, tenant, [_customer("c")])
    c = roster.customer(tenant, "c")
    assert c is not None
    assert c["uid"] > b["uid"]


def test_a_customer_id_with_a_slash_is_found_by_query(roster: Harness) -> None:
    """A customer_id a URL path cannot carry ('a/b') is found with ?customer_id=."""
    tenant = roster.tenant()
    _apply(roster, tenant, [_customer("a/b", plan="pro")])
    found = roster.get("/v1/customers", tenant, params={"customer_id": "a/b"})
    assert found.status_code == 200, found.text
    assert found.json()["attributes"] == {"plan": "pro"}


def test_event_attributes_are_stored_as_sent_and_read_back(roster: Harness) -> None:
    """An action's attributes (nested values, escapes, non-ASCII) read back exactly as posted;
    ``null`` or no attributes read back as an empty object."""
    tenant = roster.tenant()
    now = int(time.time() * 1000)
    attributes = {"sku": 'a"b\\c', "name": "Zoë ☃", "tags": [1, 2.5, None], "deep": {"x": True}}
    actions = [
        {"action": "buy", "attributes": attributes, "current_time": now},
        {"action": "view", "attributes": None, "current_time": now - 1},
        {"action": "open", "current_time": now - 2},
    ]
    batch = _apply(roster, tenant, [{"type": "event", "customer_id": "c1", "actions": actions}])
    assert batch["counts"] == {"total": 1, "applied": 1, "skipped": 0, "failed": 0}
    by_name = {e["name"]: e for e in roster.events(tenant, "c1")}
    assert by_name["buy"]["attributes"] == attributes
    assert by_name["view"]["attributes"] == {}
    assert by_name["open"]["attributes"] == {}


def test_event_attributes_that_are_not_an_object_fail_the_element(roster: Harness) -> None:
    """A list or a string as an action's attributes fails the element, naming the action."""
    tenant = roster.tenant()
    now = int(time.time() * 1000)
    good = {"action": "ok", "current_time": now}
    elements = [
        {
            "type": "event",
            "customer_id": "c1",
            "actions": [good, {"action": "x", "attributes": [1]}],
        },
        {"type": "event", "customer_id": "c2", "actions": [{"action": "x", "attributes": "s"}]},
    ]
    batch = _apply(roster, tenant, elements)
    assert batch["counts"]["failed"] == 2
    assert [(e["index"], e["field"], e["code"]) for e in batch["errors"]] == [
        (0, "actions[1].attributes", "invalid_field"),
        (1, "actions[0].attributes", "invalid_field"),
    ]
    assert roster.customer(tenant, "c1") is None
    assert roster.customer(tenant, "c2") is None


def test_every_shape_of_event_time_gives_the_same_stored_times(roster: Harness) -> None:
    """The common epoch-ms shapes and the general rules agree: a digit string, an integer, a
    float, ISO-8601 and epoch seconds, with and without an offset, store the same instant."""
    ms = 1712567385000
    shapes = [
        str(ms),
        ms,
        float(ms),
        "2024-04-08T09:09:45Z",
        ms // 1000,
        " 1712567385000 ",
        "0001712567385",
    ]
    for offset in (None, 3600, "3600"):
        for shape in shapes:
            extra = {} if offset is None else {"user_timezone_offset": offset}
            event = _event_times(roster, current_time=shape, **extra)
            assert event["occurred_at"] == "2024-04-08T09:09:45.000Z", (shape, offset)
            local = "2024-04-08T10:09:45.000Z" if offset else "2024-04-08T09:09:45.000Z"
            assert event["local_time"] == local, (shape, offset)


def test_a_digit_string_with_leading_zeros_is_read_by_its_value(roster: Harness) -> None:
    """'099999999999' is 99,999,999,999: below 1e11, so seconds (year 5138), which is refused as
    too far in the future; its twelve digits do not make it milliseconds."""
    tenant = roster.tenant()
    action = {"action": "x", "current_time": "099999999999"}
    batch = _apply(roster, tenant, [{"type": "event", "customer_id": "c1", "actions": [action]}])
    assert batch["counts"]["failed"] == 1
    assert batch["errors"][0]["code"] == "invalid_timestamp"
    assert batch["errors"][0]["field"] == "actions[0].current_time"
