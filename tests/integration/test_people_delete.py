"""Deleting a person: Customer.io's ``DELETE /api/v1/customers/{identifier}`` and MoEngage's
Delete User remove the profile with its identifiers, devices and events, journaled; the id is
free at once; an unknown person is skipped and one holding a wallet is not deleted."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from test_masivo_migration import customer as masivo_customer

from roster_testkit import Harness, Tenant


def _seed(roster: Harness, tenant: Tenant, cid: str, email: str) -> int:
    roster.transition(
        tenant,
        [
            {"type": "customer", "customer_id": cid, "attributes": {"email": email}},
            {
                "type": "device",
                "customer_id": cid,
                "device_id": f"{cid}-phone",
                "attributes": {"platform": "iOS", "push_id": "tok"},
            },
            {"type": "event", "customer_id": cid, "actions": [{"action": "Opened"}]},
        ],
    )
    roster.drain()
    found = roster.customer(tenant, cid)
    assert found is not None
    assert len(found["devices"]) == 1
    uid: int = found["uid"]
    return uid


def _moengage_delete(roster: Harness, tenant: Tenant, body: dict[str, Any]) -> Any:
    response = roster.request(
        "POST",
        "/v1/customer/delete",
        params={"app_id": tenant.id},
        json=body,
        headers=tenant.auth,
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "success"
    roster.drain()
    return roster.batch(tenant, response.json()["batch_id"])


def test_a_deleted_person_is_gone_with_all_it_owned_and_its_id_is_free(roster: Harness) -> None:
    tenant = roster.tenant()
    uid = _seed(roster, tenant, "ada", "ada@example.com")
    deleted = roster.request("DELETE", "/api/v1/customers/ada", headers=tenant.auth)
    assert deleted.status_code == 200, deleted.text
    roster.drain()
    batch = roster.batch(tenant, deleted.json()["batch_id"])
    assert (batch["kind"], batch["counts"]["applied"]) == ("people.delete", 1)
    assert roster.customer(tenant, "ada") is None
    assert roster.get("/v1/customers", tenant, params={"uid": uid}).status_code == 404
    assert (
        roster.get("/v1/customers", tenant, params={"email": "ada@example.com"}).status_code == 404
    )
    with roster.db.read() as conn:  # nothing of it is left behind, even unreadable
        for table in ("events", "devices", "customer_identifiers", "customers"):
            query = sa.text(f"SELECT count(*) FROM {table} WHERE uid = :uid")
            assert conn.execute(query, {"uid": uid}).scalar_one() == 0, table
    _seed(roster, tenant, "ada", "ada@example.com")  # the id and the device id are free again
    again = roster.customer(tenant, "ada")
    assert again is not None
    assert again["uid"] != uid
    timeline = roster.get("/v1/customers/ada/timeline", tenant).json()["timeline"]
    assert timeline[0]["type"] == "earlier_customer_deleted"
    assert (timeline[0]["uid"], timeline[0]["batch_id"]) == (uid, deleted.json()["batch_id"])


def test_moengage_delete_user_by_customer_id_or_moengage_id(roster: Harness) -> None:
    tenant = roster.tenant()
    _seed(roster, tenant, "ada", "ada@example.com")
    grace = _seed(roster, tenant, "grace", "grace@example.com")
    by_id = _moengage_delete(
        roster, tenant, {"identity_type": "customer_id", "identity_value": "ada"}
    )
    assert by_id["counts"]["applied"] == 1
    by_uid = _moengage_delete(
        roster, tenant, {"identity_type": "moengage_id", "identity_value": str(grace)}
    )
    assert by_uid["counts"]["applied"] == 1
    assert roster.customer(tenant, "ada") is None
    assert roster.customer(tenant, "grace") is None
    bad = roster.request(
        "POST",
        "/v1/customer/delete",
        params={"app_id": tenant.id},
        json={"identity_type": "email", "identity_value": "x"},
        headers=tenant.auth,
    )
    assert (bad.status_code, bad.json()["error"]["field"]) == (400, "identity_type")


def test_customerio_delete_by_email_and_the_people_not_deleted(roster: Harness) -> None:
    """An identifier holding ``@`` names the person by email; no such person is skipped
    (``unknown_customer``); a person holding a wallet fails (``has_wallet``) and stays."""
    tenant = roster.tenant()
    _seed(roster, tenant, "ada", "ada@example.com")
    by_email = roster.request("DELETE", "/api/v1/customers/ada@example.com", headers=tenant.auth)
    nobody = roster.request("DELETE", "/api/v1/customers/nobody", headers=tenant.auth)
    roster.migrate(tenant, "/customers/migrate", {"customers": [masivo_customer("rich")]})
    rich = roster.request("DELETE", "/api/v1/customers/rich", headers=tenant.auth)
    roster.drain()
    assert roster.batch(tenant, by_email.json()["batch_id"])["counts"]["applied"] == 1
    assert roster.customer(tenant, "ada") is None
    skipped = roster.batch(tenant, nobody.json()["batch_id"])
    assert (skipped["counts"]["skipped"], skipped["warnings"][0]["code"]) == (
        1,
        "unknown_customer",
    )
    kept = roster.batch(tenant, rich.json()["batch_id"])
    assert (kept["counts"]["failed"], kept["errors"][0]["code"]) == (1, "has_wallet")
    assert roster.customer(tenant, "rich") is not None


def test_deleting_a_person_removes_the_tombstones_merged_into_it(roster: Harness) -> None:
    tenant = roster.tenant()
    _seed(roster, tenant, "ada", "ada@example.com")
    b = _seed(roster, tenant, "b", "b@example.com")
    merged = roster.request(
        "POST",
        "/api/v1/merge_customers",
        json={"primary": {"id": "ada"}, "secondary": {"id": "b"}},
        headers=tenant.auth,
    )
    assert merged.status_code == 200, merged.text
    roster.drain()
    assert roster.get("/v1/customers", tenant, params={"uid": b}).json()["merged_into"]
    roster.request("DELETE", "/api/v1/customers/ada", headers=tenant.auth)
    roster.drain()
    assert roster.get("/v1/customers", tenant, params={"uid": b}).status_code == 404
