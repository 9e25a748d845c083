"""A query parameter a route does not take is a 400 naming it: a typo never leaves an option
silently at its default, and nothing is stored."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute, iter_route_contexts

from roster.api.query_check import OPEN_QUERY
from roster_testkit import Harness

CSV = b"id,email,plan\nu1,u1@example.com,pro\n"


def test_a_misspelt_people_import_option_is_refused_and_nothing_imported(
    roster: Harness,
) -> None:
    """``?mach_by=email`` (for match_by) is a 400 naming it; spelt right, the file imports."""
    tenant = roster.tenant()
    headers = {**tenant.auth, "Content-Type": "text/csv"}
    typo = roster.request(
        "POST", "/v1/imports/people", params={"mach_by": "email"}, content=CSV, headers=headers
    )
    assert typo.status_code == 400, typo.text
    error = typo.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_parameter", "mach_by")
    assert "match_by" in error["message"]  # it says what the route takes
    assert roster.get("/v1/batches", tenant).json()["batches"] == []
    right = roster.request(
        "POST", "/v1/imports/people", params={"match_by": "email"}, content=CSV, headers=headers
    )
    assert right.status_code == 202, right.text


def test_every_route_refuses_a_query_parameter_it_does_not_take(roster: Harness) -> None:
    """Each route of the API, called with an unknown parameter, answers 400 naming it."""
    tenant = roster.tenant()
    routes = [
        (route.path_format, method)
        for route in iter_route_contexts(roster.app.routes)
        if isinstance(route.original_route, APIRoute)
        for method in route.methods or ()
    ]
    assert len(routes) > 30
    for path, method in routes:
        url = re.sub(r"\{[^}]+\}", "x1", path)
        response = roster.request(method, url, params={"zz_typo": "1"}, headers=tenant.auth)
        assert response.status_code == 400, (method, path, response.text)
        assert "zz_typo" in response.text, (method, path, response.text)


def test_a_customer_lookup_takes_the_workspace_identifiers_and_nothing_else(
    roster: Harness,
) -> None:
    """``GET /v1/customers`` takes its declared parameters and the workspace's identifier
    attributes (``?email=``), which it marks in the API description; ``?emial=`` is a 400."""
    tenant = roster.tenant()
    roster.transition(
        tenant, [{"type": "customer", "customer_id": "c1", "attributes": {"email": "a@b.co"}}]
    )
    roster.drain()
    found = roster.get("/v1/customers", tenant, params={"email": "a@b.co"})
    assert found.status_code == 200, found.text
    assert found.json()["customer_id"] == "c1"
    typo = roster.get("/v1/customers", tenant, params={"emial": "a@b.co"})
    assert (typo.status_code, typo.json()["error"]["field"]) == (400, "emial")
    described = roster.request("GET", "/openapi.json").json()["paths"]["/v1/customers"]["get"]
    assert OPEN_QUERY in described
