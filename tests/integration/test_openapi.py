"""The OpenAPI description at /openapi.json lists every route the API serves."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute, iter_route_contexts

from roster_testkit import Harness

#: The Data Pipelines calls under Customer.io's backfill prefix; all but track were once missing.
PIPELINES_PATHS = (
    "/v1/api/identify",
    "/v1/api/track",
    "/v1/api/page",
    "/v1/api/screen",
    "/v1/api/batch",
)


def test_openapi_describes_every_route_the_app_serves(roster: Harness) -> None:
    """Every API route and method is in /openapi.json, the /v1/api/ Data Pipelines calls too."""
    response = roster.request("GET", "/openapi.json")
    assert response.status_code == 200, response.text
    paths = response.json()["paths"]
    described = {
        (path, method.upper()) for path, operations in paths.items() for method in operations
    }
    served = {  # included routers are expanded: app.routes holds them unflattened
        (route.path_format, method)
        for route in iter_route_contexts(roster.app.routes)
        if isinstance(route.original_route, APIRoute) and route.include_in_schema
        for method in route.methods or ()
    }
    assert {("/healthz", "GET"), ("/v1/transition/{workspace_id}", "POST")} <= served
    assert served - described == set()
    for path in PIPELINES_PATHS:
        assert "post" in paths.get(path, {}), f"POST {path} missing from /openapi.json"


def test_the_api_pages_load_their_assets_from_roster_itself(roster: Harness) -> None:
    """Swagger UI and ReDoc name no asset outside Roster (no CDN: they load offline), and every
    asset they name is served."""
    for page in ("/docs", "/redoc"):
        response = roster.request("GET", page)
        assert response.status_code == 200, response.text
        html = response.text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources, html
        assert not [s for s in sources if s.startswith(("http:", "https:", "//"))], sources
        assert "cdn" not in html.lower()
        for asset in sources:
            if asset.startswith("/"):
                assert roster.request("GET", asset).status_code == 200, asset
