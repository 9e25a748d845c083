"""MoEngage's published Python client (``moengage`` on PyPI), unchanged, against a real
``roster serve``: pointed at Roster by the base URL it takes, its two calls (Track User and Track
Event) store what MoEngage would, and a refusal reaches it as MoEngage's error."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from moengage.exceptions import MoengageAPIException
from moengage.wrapper import Moengage
from process_kit import Cluster, client, drain, opened, start_all

from roster_testkit import Tenant


def test_moengage_client_tracks_users_and_events_into_roster(
    store_cluster: Cluster, make_tenant: Callable[[Cluster, str], Tenant]
) -> None:
    api, worker = store_cluster.api(), store_cluster.worker("worker")
    start_all(api, worker)
    tenant = make_tenant(store_cluster, "moe")
    moe = Moengage(api.base_url, tenant.id, tenant.key)
    moe.create_or_update_user("u1", name="Ada", email="ada@example.com", plan="pro")
    moe.create_or_update_user("u1", plan="enterprise")  # an update of the same user
    moe.publish_event("u1", "Purchased", amount=120, sku="A-1")
    moe.publish_event("u2", "Viewed")  # MoEngage creates the user an event names
    with opened(store_cluster.url) as db:
        drain(db)
    auth = (tenant.id, tenant.key)
    with client(api) as http:
        profile = http.get("/v1/customers/u1", auth=auth).json()
        assert profile["attributes"]["name"] == "Ada"
        assert profile["attributes"]["email"] == "ada@example.com"
        assert profile["attributes"]["plan"] == "enterprise"
        events = http.get("/v1/customers/u1/events", auth=auth).json()["events"]
        assert [(e["name"], e["attributes"]) for e in events] == [
            ("Purchased", {"amount": 120, "sku": "A-1"})
        ]
        assert http.get("/v1/customers/u2", auth=auth).status_code == 200
        batches = http.get("/v1/batches", auth=auth).json()["batches"]
        assert len(batches) == 4
        assert all(b["counts"]["applied"] == 1 for b in batches)


def test_moengage_client_reads_a_refusal_as_moengage_error(
    store_cluster: Cluster, make_tenant: Callable[[Cluster, str], Tenant]
) -> None:
    """Wrong credentials and a body the door refuses come back in MoEngage's envelope, which
    the client turns into its own exception carrying the message."""
    api = store_cluster.api()
    start_all(api)
    tenant = make_tenant(store_cluster, "moe")
    with pytest.raises(MoengageAPIException, match="Moengage API error"):
        Moengage(api.base_url, tenant.id, "wrong-key").create_or_update_user("u1")
    with pytest.raises(MoengageAPIException, match="workspace"):
        Moengage(api.base_url, "OTHER", tenant.key).publish_event("u1", "Viewed")
