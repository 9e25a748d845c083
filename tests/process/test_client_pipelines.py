"""Customer.io's Data Pipelines client (``customerio-cdp-analytics``) and Segment's
(``analytics-python``), unchanged, against a real ``roster serve``: pointed at Roster by their
``host`` setting, with the workspace's key as their write key, in sync mode and through their
background queue, plain and gzip-compressed; a refusal reaches them as their ``APIError`` with
Roster's code, and is not retried."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import analytics
import pytest
from customerio import analytics as cio_analytics
from process_kit import Cluster, Proc, client, drain, opened, start_all

from roster_testkit import Tenant

CLIENTS = {
    "customerio-cdp-analytics": (cio_analytics.Client, "customerio.analytics.request"),
    "analytics-python": (analytics.Client, "analytics.request"),
}


def _started(
    cluster: Cluster, make_tenant: Callable[[Cluster, str], Tenant]
) -> tuple[Proc, Tenant]:
    api, worker = cluster.api(), cluster.worker("worker")
    start_all(api, worker)
    return api, make_tenant(cluster, "cdp")


def _read(cluster: Cluster, api: Proc, tenant: Tenant, path: str) -> Any:
    with opened(cluster.url) as db:
        drain(db)
    with client(api) as http:
        response = http.get(path, auth=(tenant.id, tenant.key))
        assert response.status_code == 200, response.text
        return response.json()


@pytest.mark.parametrize("name", CLIENTS)
@pytest.mark.parametrize("gzip", [False, True])
def test_pipelines_clients_identify_and_track_into_roster(
    store_cluster: Cluster,
    make_tenant: Callable[[Cluster, str], Tenant],
    name: str,
    gzip: bool,
) -> None:
    api, tenant = _started(store_cluster, make_tenant)
    make, _ = CLIENTS[name]
    sync = make(tenant.key, host=api.base_url, sync_mode=True, gzip=gzip)
    sync.identify("u1", {"name": "Ada", "plan": "pro"})
    sync.track("u1", "Purchased", {"amount": 12.5})
    sync.page("u1", "Docs", "Pricing", {"path": "/pricing"})
    sync.screen("u1", "App", "Home")
    sync.track(anonymous_id="anon-9", event="Browsed")  # before sign-up: anonymous
    sync.identify("u9", {"plan": "free"}, anonymous_id="anon-9")  # signs up
    sync.identify("u1", {"address": {"city": "Lima"}})  # a nested trait
    sync.group("u1", "acme", {"plan": "enterprise"})
    sync.alias("u1", "u1-new")  # previous id, then user id: u1 becomes u1-new
    queued = make(tenant.key, host=api.base_url, gzip=gzip)  # the background consumer
    for n in range(25):
        queued.track("u2", "Tapped", {"n": n})
    queued.flush()
    queued.join()
    profile = _read(store_cluster, api, tenant, "/v1/customers/u1-new")
    assert (profile["attributes"]["name"], profile["attributes"]["plan"]) == ("Ada", "pro")
    assert profile["attributes"]["address"] == {"city": "Lima"}
    assert profile["groups"] == ["acme"]
    acme = _read(store_cluster, api, tenant, "/v1/groups/acme")
    assert (acme["traits"], acme["members"]) == ({"plan": "enterprise"}, 1)
    browsed = _read(store_cluster, api, tenant, "/v1/customers/u9/events")["events"]
    assert [e["name"] for e in browsed] == ["Browsed"]
    events = _read(store_cluster, api, tenant, "/v1/customers/u1-new/events")["events"]
    assert sorted(e["name"] for e in events) == ["Home", "Pricing", "Purchased"]
    tapped = _read(store_cluster, api, tenant, "/v1/customers/u2/events?limit=100")["events"]
    assert sorted(e["attributes"]["n"] for e in tapped) == list(range(25))
    for listed in _read(store_cluster, api, tenant, "/v1/batches")["batches"]:
        batch = _read(store_cluster, api, tenant, f"/v1/batches/{listed['batch_id']}")
        assert batch["warnings"] == batch["errors"] == [], batch  # every field they send known


@pytest.mark.parametrize("name", CLIENTS)
def test_pipelines_clients_read_a_refusal_as_their_api_error(
    store_cluster: Cluster,
    make_tenant: Callable[[Cluster, str], Tenant],
    name: str,
) -> None:
    """A wrong key is a 401 whose ``code`` and ``message`` the client reads (a 4xx it does not
    retry); nothing is stored."""
    api, tenant = _started(store_cluster, make_tenant)
    make, module = CLIENTS[name]
    api_error = __import__(module, fromlist=["APIError"]).APIError
    wrong = make(tenant.key + "x", host=api.base_url, sync_mode=True)
    with pytest.raises(api_error) as raised:
        wrong.identify("u1", {"plan": "pro"})
    assert (raised.value.status, raised.value.code) == (401, "authentication_failed")
    assert raised.value.message
    assert _read(store_cluster, api, tenant, "/v1/batches")["batches"] == []
