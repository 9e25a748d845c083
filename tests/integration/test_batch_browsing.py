"""``GET /v1/batches`` pages past any number of batches with a cursor, newest first, and
filters by status, kind, run and "has errors" (the batch failed, or some of its elements)."""

from __future__ import annotations

from typing import Any

from roster_testkit import Harness, Tenant


def _page(roster: Harness, tenant: Tenant, **params: Any) -> dict[str, Any]:
    response = roster.get("/v1/batches", tenant, params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def test_batches_page_newest_first_and_filter_by_errors(roster: Harness) -> None:
    tenant = roster.tenant()
    ids = []
    for n in range(5):
        element = {"type": "customer", "customer_id": f"c{n}", "attributes": {"n": n}}
        if n % 2:
            element = {"type": "device", "customer_id": "nobody", "device_id": f"d{n}"}
        ids.append(roster.transition(tenant, [element]).json()["batch_id"])
    roster.drain()
    seen: list[str] = []
    page = _page(roster, tenant, limit=2)
    while True:
        seen += [b["batch_id"] for b in page["batches"]]
        if page["next"] is None:
            break
        page = _page(roster, tenant, limit=2, after=page["next"])
    assert seen == ids[::-1]
    with_errors = _page(roster, tenant, has_errors="true")["batches"]
    assert [b["batch_id"] for b in with_errors] == [ids[3], ids[1]]
    assert all(b["counts"]["failed"] == 1 for b in with_errors)
    clean = _page(roster, tenant, has_errors="false", kind="transition", status="done")
    assert [b["batch_id"] for b in clean["batches"]] == [ids[4], ids[2], ids[0]]
    refused = roster.get("/v1/batches", tenant, params={"after": "soon"})
    assert (refused.status_code, refused.json()["error"]["field"]) == (400, "after")


def test_runs_page_newest_first_with_a_cursor(roster: Harness) -> None:
    tenant = roster.tenant()
    for n in range(5):
        element = {"type": "customer", "customer_id": f"c{n}"}
        response = roster.transition(tenant, [element], **{"X-Roster-Run": f"run-{n}"})
        assert response.status_code == 200, response.text
    roster.drain()
    seen: list[str] = []
    response = roster.get("/v1/runs", tenant, params={"limit": 2})
    while True:
        page = response.json()
        seen += [r["run"] for r in page["runs"]]
        if page["next"] is None:
            break
        response = roster.get("/v1/runs", tenant, params={"limit": 2, "after": page["next"]})
    assert seen == [f"run-{n}" for n in (4, 3, 2, 1, 0)]
    refused = roster.get("/v1/runs", tenant, params={"after": "x"})
    assert (refused.status_code, refused.json()["error"]["field"]) == (400, "after")
