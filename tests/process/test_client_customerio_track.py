"""Customer.io's Track API client (``customerio`` on PyPI), unchanged, against a real
``roster serve`` speaking HTTPS (the client speaks nothing else): pointed at Roster by its
``host`` and ``port`` settings, the certificate trusted through ``REQUESTS_CA_BUNDLE``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from customerio import APIClient, CustomerIO, CustomerIOException, SendEmailRequest
from process_kit import Cluster, Proc, client, drain, opened, self_signed, start_all

from roster_testkit import Tenant


@pytest.fixture
def https(
    store_cluster: Cluster,
    make_tenant: Callable[[Cluster, str], Tenant],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Proc, Tenant, CustomerIO]]:
    cert, key = self_signed(store_cluster.dir)
    api = store_cluster.api(ROSTER_TLS_CERT=str(cert), ROSTER_TLS_KEY=str(key))
    start_all(api, store_cluster.worker("worker"))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # how requests trusts a certificate
    tenant = make_tenant(store_cluster, "track")
    assert api.port is not None
    with CustomerIO(tenant.id, tenant.key, host="127.0.0.1", port=api.port, retries=0) as cio:
        yield api, tenant, cio


def _read(cluster: Cluster, api: Proc, tenant: Tenant, path: str, **params: Any) -> Any:
    with opened(cluster.url) as db:
        drain(db)
    with client(api) as http:
        response = http.get(path, auth=(tenant.id, tenant.key), params=params)
        assert response.status_code == 200, response.text
        return response.json()


def test_track_client_identifies_tracks_and_merges_people(
    store_cluster: Cluster, https: tuple[Proc, Tenant, CustomerIO]
) -> None:
    api, tenant, cio = https
    cio.identify("ada", email="ada@example.com", plan="pro")
    cio.track("ada", "purchased", {"amount": 12}, id="01J000000000000000000000AA")
    cio.track("ada", "purchased", {"amount": 12}, id="01J000000000000000000000AA")  # its retry
    cio.pageview("ada", "https://example.com/pricing", referrer="docs")
    cio.backfill("ada", "signed_up", 1_700_000_000, source="import")
    cio.identify("grace", plan="free")
    grace = _read(store_cluster, api, tenant, "/v1/customers/grace")["uid"]
    cio.merge_customers("id", "ada", "id", "grace")
    profile = _read(store_cluster, api, tenant, "/v1/customers/ada")
    assert profile["attributes"]["plan"] == "pro"
    events = _read(store_cluster, api, tenant, "/v1/customers/ada/events")["events"]
    names = sorted(e["name"] for e in events)
    assert names == ["https://example.com/pricing", "purchased", "signed_up"]
    signed = next(e for e in events if e["name"] == "signed_up")
    assert signed["occurred_at"].startswith("2023-11-14T22:13:20")
    gone = _read(store_cluster, api, tenant, "/v1/customers", uid=grace)
    assert gone["merged_into"] == profile["uid"]  # grace is merged into ada


def test_track_client_ids_the_client_percent_encodes_reach_their_person(
    store_cluster: Cluster, https: tuple[Proc, Tenant, CustomerIO]
) -> None:
    """The client percent-encodes every character of an id but letters, digits and ``_.-~``:
    ``team/ada``, ``a b`` and ``50%`` are people of their own, as Customer.io keeps them."""
    api, tenant, cio = https
    ids = ["team/ada", "a b", "50%", "x/events", "ü?#&"]
    for n, person in enumerate(ids):
        cio.identify(person, n=n)
        cio.track(person, "seen", {"n": n})
    for n, person in enumerate(ids):
        found = _read(store_cluster, api, tenant, "/v1/customers", customer_id=person)
        assert found["attributes"]["n"] == n, person
        with client(api) as http:
            events = http.get(
                f"/v1/uids/{found['uid']}/events", auth=(tenant.id, tenant.key)
            ).json()["events"]
        assert [(e["name"], e["attributes"]) for e in events] == [("seen", {"n": n})], person


def test_track_client_deletes_a_person(
    store_cluster: Cluster, https: tuple[Proc, Tenant, CustomerIO]
) -> None:
    """``delete`` removes the person; the id names a new person afterwards."""
    api, tenant, cio = https
    cio.identify("team/ada", plan="pro")
    first = _read(store_cluster, api, tenant, "/v1/customers", customer_id="team/ada")["uid"]
    cio.delete("team/ada")
    with opened(store_cluster.url) as db:
        drain(db)
    with client(api) as http:
        gone = http.get(
            "/v1/customers", params={"customer_id": "team/ada"}, auth=(tenant.id, tenant.key)
        )
    assert gone.status_code == 404, gone.text
    cio.identify("team/ada", plan="free")
    again = _read(store_cluster, api, tenant, "/v1/customers", customer_id="team/ada")
    assert (again["attributes"], again["uid"] != first) == ({"plan": "free"}, True)


def test_track_client_adds_and_removes_devices(
    store_cluster: Cluster, https: tuple[Proc, Tenant, CustomerIO]
) -> None:
    """A device's id is its push token; adding one to a person no one holds creates the person;
    removing one leaves the person's other devices."""
    api, tenant, cio = https
    cio.add_device("ada", "tok/1", "ios", last_used=1_700_000_000, attributes={"model": "15"})
    cio.add_device("ada", "tok-2", "android")
    cio.delete_device("ada", "tok/1")
    profile = _read(store_cluster, api, tenant, "/v1/customers/ada")
    assert [(d["device_id"], d["platform"], d["push_id"]) for d in profile["devices"]] == [
        ("tok-2", "ANDROID", "tok-2")
    ]
    cio.add_device("ada", "tok/1", "ios", attributes={"model": "16"})
    again = _read(store_cluster, api, tenant, "/v1/customers/ada")["devices"]
    phone = next(d for d in again if d["device_id"] == "tok/1")
    assert (phone["platform"], phone["attributes"]) == ("iOS", {"model": "16"})
    with pytest.raises(CustomerIOException, match="400"):
        cio.add_device("ada", "tok-3", "windows")


def test_track_client_suppresses_and_unsuppresses(
    store_cluster: Cluster, https: tuple[Proc, Tenant, CustomerIO]
) -> None:
    api, tenant, cio = https
    cio.identify("ada", plan="pro")
    cio.suppress("ada")
    cio.identify("ada", plan="ignored")
    with opened(store_cluster.url) as db:
        drain(db)
    with client(api) as http:
        assert http.get("/v1/customers/ada", auth=(tenant.id, tenant.key)).status_code == 404
    cio.unsuppress("ada")
    cio.identify("ada", plan="back")
    assert _read(store_cluster, api, tenant, "/v1/customers/ada")["attributes"] == {"plan": "back"}


def test_track_client_sends_a_v2_batch_of_every_action(
    store_cluster: Cluster, https: tuple[Proc, Tenant, CustomerIO]
) -> None:
    """``batch`` (``POST /api/v2/batch``): operations applied in order; an id holding ``/``
    travels in the body, unencoded."""
    api, tenant, cio = https
    ada = {"id": "team/ada"}
    cio.batch(
        [
            {"type": "person", "identifiers": ada, "action": "identify", "attributes": {"n": 1}},
            {"type": "person", "identifiers": ada, "action": "event", "name": "paid"},
            {
                "type": "person",
                "identifiers": ada,
                "action": "add_device",
                "device": {"token": "tok", "platform": "android"},
            },
            {"type": "person", "identifiers": {"id": "bo"}, "action": "identify"},
            {"type": "person", "identifiers": {"id": "bo"}, "action": "delete"},
        ]
    )
    profile = _read(store_cluster, api, tenant, "/v1/customers", customer_id="team/ada")
    assert profile["attributes"] == {"n": 1}
    assert [d["device_id"] for d in profile["devices"]] == ["tok"]
    with client(api) as http:
        events = http.get(f"/v1/uids/{profile['uid']}/events", auth=(tenant.id, tenant.key)).json()[
            "events"
        ]
        assert [e["name"] for e in events] == ["paid"]
        bo = http.get("/v1/customers/bo", auth=(tenant.id, tenant.key))
        assert bo.status_code == 404, bo.text


def test_track_client_reads_a_refusal_as_its_exception(
    https: tuple[Proc, Tenant, CustomerIO],
) -> None:
    api, tenant, _ = https
    assert api.port is not None
    wrong = CustomerIO(tenant.id, "wrong", host="127.0.0.1", port=api.port, retries=0)
    with wrong, pytest.raises(CustomerIOException, match="401"):
        wrong.identify("ada", plan="pro")


def test_app_api_client_sends_no_messages_and_is_told_so(
    https: tuple[Proc, Tenant, CustomerIO],
) -> None:
    """The package's ``APIClient`` (the App API: transactional email, push, SMS, ...) asks
    Roster to send messages, which it never does: a 404 naming the path, as Customer.io answers
    a path it does not serve, raised by the client as its exception."""
    api, tenant, _ = https
    app = APIClient(tenant.key, url=api.base_url, retries=0)
    request = SendEmailRequest(
        transactional_message_id=1, to="ada@example.com", identifiers={"id": "ada"}
    )
    with app, pytest.raises(CustomerIOException, match="404") as refused:
        app.send_email(request)
    assert "/v1/send/email" in str(refused.value)
