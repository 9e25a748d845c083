"""Customer.io's Track API devices: added (the token as the device and push id), checked at the
door as Customer.io checks them, and removed; removing what is not there is skipped, named."""

from __future__ import annotations

from roster_testkit import Harness


def test_device_rules_at_the_door_and_in_the_ledger(roster: Harness) -> None:
    tenant = roster.tenant()
    put = "/api/v1/customers/ada/devices"
    wrong_platform = {"device": {"id": "t1", "platform": "windows"}}
    no_device = {"nothing": {"id": "t1", "platform": "ios"}}
    for field, body in (("device.platform", wrong_platform), ("device", no_device)):
        refused = roster.request("PUT", put, json=body, headers=tenant.auth)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["field"] == field
    added = roster.request(
        "PUT", put, json={"device": {"id": "t1", "platform": "ios"}}, headers=tenant.auth
    )
    assert added.status_code == 200, added.text
    same = roster.request(
        "PUT", put, json={"device": {"id": "t1", "platform": "ios"}}, headers=tenant.auth
    )
    gone = roster.request("DELETE", "/api/v1/customers/ada/devices/nope", headers=tenant.auth)
    nobody = roster.request("DELETE", "/api/v1/customers/bob/devices/t1", headers=tenant.auth)
    roster.drain()
    first = roster.batch(tenant, added.json()["batch_id"])
    assert (first["kind"], first["effects"]["created"]) == ("customerio.device", 1)
    assert roster.batch(tenant, same.json()["batch_id"])["effects"]["unchanged"] == 1
    assert roster.batch(tenant, gone.json()["batch_id"])["warnings"][0]["code"] == "unknown_device"
    assert roster.batch(tenant, nobody.json()["batch_id"])["warnings"][0]["code"] == (
        "unknown_customer"
    )
    devices = roster.customer(tenant, "ada")["devices"]  # type: ignore[index]
    assert [(d["device_id"], d["platform"]) for d in devices] == [("t1", "iOS")]
