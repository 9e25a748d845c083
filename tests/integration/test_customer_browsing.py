"""Browsing a workspace's customers: ``GET /v1/customers`` without a lookup pages them in uid
order with a cursor, filters and counts them; ``GET /v1/export/customers`` streams the same as
JSON lines. Customers merged away are never listed."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from test_masivo_migration import customer as masivo_customer

from roster.services.reads import customer_list as reads_customer_list
from roster.store import customer_list as store_customer_list
from roster_testkit import Harness, Tenant


def _seed(roster: Harness, tenant: Tenant) -> None:
    roster.transition(
        tenant,
        [
            {"type": "customer", "customer_id": f"c{n}", "attributes": attributes}
            for n, attributes in enumerate(
                [
                    {"plan": "pro", "email": "Ada@Example.com", "seats": 3, "vip": True},
                    {"plan": "free", "seats": 3.5},
                    {"plan": "pro", "vip": False, "tags": ["a"]},
                    {"plan": "pro", "nested": {"plan": "x"}},
                    {"plan": "team"},
                ]
            )
        ],
    )
    roster.drain()


def _list(roster: Harness, tenant: Tenant, **params: Any) -> dict[str, Any]:
    response = roster.get("/v1/customers", tenant, params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def _ids(page: dict[str, Any]) -> list[str]:
    return [c["customer_id"] for c in page["customers"]]


def test_pages_follow_the_cursor_and_count_everyone(roster: Harness) -> None:
    tenant = roster.tenant(identifiers=["email"])
    _seed(roster, tenant)
    seen: list[str] = []
    page = _list(roster, tenant, limit=2, count="true")
    assert page["count"] == 5
    while True:
        seen += _ids(page)
        if page["next"] is None:
            break
        page = _list(roster, tenant, limit=2, after=page["next"])
    assert seen == ["c0", "c1", "c2", "c3", "c4"]
    first = _list(roster, tenant, limit=1)["customers"][0]
    assert first["identifiers"] == {"email": "Ada@Example.com"}
    assert (first["migrated"], first["migrated_only"]) == (False, False)


def test_filters_by_attribute_value_identifier_and_time(roster: Harness) -> None:
    tenant = roster.tenant(identifiers=["email"])
    _seed(roster, tenant)
    assert _ids(_list(roster, tenant, attribute="plan", value="pro")) == ["c0", "c2", "c3"]
    assert _ids(_list(roster, tenant, attribute="seats", value="3")) == ["c0"]
    assert _ids(_list(roster, tenant, attribute="seats", value="3.5")) == ["c1"]
    assert _ids(_list(roster, tenant, attribute="vip", value="true")) == ["c0"]
    assert _ids(_list(roster, tenant, attribute="vip", value="false")) == ["c2"]
    assert _ids(_list(roster, tenant, attribute="nested", value="x")) == []  # objects: never
    # an identifier is matched as a lookup matches it (normalised), through its index
    assert _ids(_list(roster, tenant, attribute="email", value="ada@example.COM")) == ["c0"]
    counted = _list(roster, tenant, attribute="plan", value="pro", count="true", limit=1)
    assert (counted["count"], _ids(counted)) == (3, ["c0"])
    later = time.time() + 60
    assert _list(roster, tenant, updated_since=str(int(later)))["customers"] == []
    assert len(_list(roster, tenant, created_since="1970-01-02T00:00:00Z")["customers"]) == 5


def test_migration_state_and_merged_customers(roster: Harness) -> None:
    tenant = roster.tenant()
    _seed(roster, tenant)
    roster.migrate(tenant, "/customers/migrate", {"customers": [masivo_customer("m1")]})
    assert _ids(_list(roster, tenant, migrated="true")) == ["m1"]
    assert _ids(_list(roster, tenant, migrated_only="true")) == ["m1"]
    assert "m1" not in _ids(_list(roster, tenant, migrated="false"))
    merged = roster.request(
        "POST",
        f"/v1/customer/merge?app_id={tenant.id}",
        json={"merge_data": [{"merged_user": "c1", "retained_user": "c0"}]},
        headers=tenant.json_auth,
    )
    assert merged.status_code == 200, merged.text
    roster.drain()
    assert "c1" not in _ids(_list(roster, tenant))
    assert _list(roster, tenant, count="true")["count"] == 5


def test_the_export_streams_every_customer_as_json_lines(roster: Harness) -> None:
    tenant = roster.tenant(identifiers=["email"])
    _seed(roster, tenant)
    response = roster.get("/v1/export/customers", tenant)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.headers["x-roster-count"] == "5"
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines == _list(roster, tenant)["customers"]
    pro = roster.get("/v1/export/customers", tenant, params={"attribute": "plan", "value": "pro"})
    assert [json.loads(x)["customer_id"] for x in pro.text.splitlines()] == ["c0", "c2", "c3"]


def test_listing_mistakes_are_named(roster: Harness) -> None:
    tenant = roster.tenant(identifiers=["email"])
    for params, field in (
        ({"attribute": "plan"}, "value"),
        ({"value": "pro"}, "attribute"),
        ({"after": "x1"}, "after"),
        ({"email": "a@example.com", "limit": "5"}, "limit"),
        ({"migrated": "maybe"}, "migrated"),
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"sort": "uid"}, "sort"),
    ):
        response = roster.get("/v1/customers", tenant, params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["error"]["field"] == field, (params, response.text)


def test_a_filter_without_an_index_reads_a_window_a_page(
    roster: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page of a filter checked row by row reads at most SCAN_WINDOW customers: it may hold
    fewer than asked, even none, and ``next`` goes on until ``null``; the export follows it
    to the end."""
    monkeypatch.setattr(store_customer_list, "SCAN_WINDOW", 2)
    tenant = roster.tenant(identifiers=["email"])
    _seed(roster, tenant)  # plan: pro, free, pro, pro, team
    pages = []
    page = _list(roster, tenant, attribute="plan", value="pro", limit=10)
    while True:
        pages.append(_ids(page))
        if page["next"] is None:
            break
        page = _list(roster, tenant, attribute="plan", value="pro", limit=10, after=page["next"])
    assert pages == [["c0"], ["c2", "c3"], []]
    assert _ids(_list(roster, tenant, limit=10)) == ["c0", "c1", "c2", "c3", "c4"]  # no filter
    pro = roster.get("/v1/export/customers", tenant, params={"attribute": "plan", "value": "pro"})
    assert [json.loads(x)["customer_id"] for x in pro.text.splitlines()] == ["c0", "c2", "c3"]


def test_an_export_pages_through_each_window_it_found(
    roster: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With windows larger than the export's pages, each window is read page by page, and the
    export still holds each matching customer once, in uid order."""
    monkeypatch.setattr(store_customer_list, "SCAN_WINDOW", 3)
    monkeypatch.setattr(reads_customer_list, "EXPORT_PAGE", 1)
    tenant = roster.tenant(identifiers=["email"])
    _seed(roster, tenant)  # plan: pro, free, pro, pro, team
    pro = roster.get("/v1/export/customers", tenant, params={"attribute": "plan", "value": "pro"})
    assert [json.loads(x)["customer_id"] for x in pro.text.splitlines()] == ["c0", "c2", "c3"]
    every = roster.get("/v1/export/customers", tenant, params={"migrated": "false"})
    assert [json.loads(x)["customer_id"] for x in every.text.splitlines()] == [
        f"c{n}" for n in range(5)
    ]
