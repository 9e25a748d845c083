"""``GET /metrics``: what the store holds, read at scrape time, and what this process counted."""

from __future__ import annotations

from collections import defaultdict

import pytest
from prometheus_client.parser import text_string_to_metric_families

from roster.bootstrap import Container
from roster_testkit import Harness, settings_for

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def scrape(roster: Harness, **headers: str) -> Samples:
    """The scrape parsed: sample name -> labels -> value."""
    response = roster.request("GET", "/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    found: Samples = defaultdict(dict)
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            found[s.name][tuple(sorted(s.labels.items()))] = s.value
    return found


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[name].get(tuple(sorted(labels.items())), 0.0)


def _customer(cid: str) -> dict[str, object]:
    return {"type": "customer", "customer_id": cid, "attributes": {"plan": "gold"}}


BAD = {"type": "customer", "customer_id": " ", "attributes": {}}


def test_counts_by_kind_and_outcome_are_what_the_ledgers_say(roster: Harness) -> None:
    """After batches of two kinds are applied, the elements by kind and outcome, the batches
    accepted and finished, and the empty queue are those the batch API reports."""
    tenant = roster.tenant()
    applies_before = value(scrape(roster), "roster_apply_duration_seconds_count", kind="transition")
    ids = [
        roster.transition(tenant, [_customer("a"), _customer("b"), BAD]).json()["batch_id"],
        roster.transition(tenant, [_customer("c"), BAD, BAD]).json()["batch_id"],
    ]
    ids.append(roster.cio_batch(tenant, "/v1/identify", {"userId": "d", "traits": {"x": 1}}))
    roster.drain()
    views = [roster.batch(tenant, b) for b in ids]
    samples = scrape(roster)

    expected: dict[tuple[str, str], float] = defaultdict(float)
    for view in views:
        for outcome in ("applied", "skipped", "failed"):
            expected[(view["kind"], outcome)] += view["counts"][outcome]
    for (kind, outcome), n in expected.items():
        assert value(samples, "roster_elements_total", kind=kind, outcome=outcome) == n
    assert value(samples, "roster_elements_total", kind="transition", outcome="failed") == 3
    assert value(samples, "roster_batches_accepted_total", kind="transition") == 2
    assert value(samples, "roster_batches_finished_total", kind="transition", status="done") == 2
    assert value(samples, "roster_queue_batches", status="queued") == 0
    assert value(samples, "roster_queue_oldest_age_seconds") == 0
    assert value(samples, "roster_store_up") == 1
    applies = value(samples, "roster_apply_duration_seconds_count", kind="transition")
    assert applies > applies_before  # this process applied them (one group, or two)


def test_the_queue_is_read_from_the_store_at_scrape_time(roster: Harness) -> None:
    """Batches accepted but not applied show as the queue's depth, its elements and the age of
    the oldest; nothing is counted as applied yet."""
    tenant = roster.tenant()
    for cid in ("a", "b"):
        assert roster.transition(tenant, [_customer(cid), BAD]).status_code == 200
    samples = scrape(roster)
    assert value(samples, "roster_queue_batches", status="queued") == 2
    assert value(samples, "roster_queue_batches", status="processing") == 0
    assert value(samples, "roster_queue_elements") == 4
    assert value(samples, "roster_queue_oldest_age_seconds") > 0
    assert value(samples, "roster_batches_accepted_total", kind="transition") == 2
    assert value(samples, "roster_elements_total", kind="transition", outcome="applied") == 0


def test_requests_are_counted_by_route_template_and_status(roster: Harness) -> None:
    """A request is labelled with its route's template, never the ids in its path, and with
    its status; the scrape carries no customer or workspace id."""
    tenant = roster.tenant()
    roster.transition(tenant, [_customer("secret-customer-77")])
    roster.drain()
    before = scrape(roster)
    assert roster.get("/v1/customers/secret-customer-77", tenant).status_code == 200
    assert roster.get("/v1/customers/nobody-here", tenant).status_code == 404
    assert roster.request("GET", "/no/such/path").status_code == 404
    after = scrape(roster)
    route = "/v1/customers/{customer_id}"
    for status in ("200", "404"):
        labels = {"method": "GET", "route": route, "status": status}
        grew = value(after, "roster_http_requests_total", **labels) - value(
            before, "roster_http_requests_total", **labels
        )
        assert grew == 1, status
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert (
        value(after, "roster_http_requests_total", **unmatched)
        - value(before, "roster_http_requests_total", **unmatched)
        == 1
    )
    for invented in ("FOO1", "FOO2"):  # a method a client invents makes no series of its own
        roster.request(invented, "/healthz")
    methods = {dict(k)["method"] for k in scrape(roster)["roster_http_requests_total"]}
    assert "FOO1" not in methods
    assert "other" in methods
    text = roster.request("GET", "/metrics").text
    assert "secret-customer-77" not in text
    assert "nobody-here" not in text
    assert tenant.id not in text
    assert all(name.startswith("roster_") for name in after)


@pytest.fixture
def guarded(container: Container) -> Harness:
    token = "t" * 32
    settings = settings_for(container.settings.database_url, metrics_token=token)
    return Harness(Container(settings, container.db))


def test_a_metrics_token_is_required_when_set(guarded: Harness) -> None:
    """With ROSTER_METRICS_TOKEN set, a scrape without it, or with another, gets 401; with it,
    the metrics."""
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dDp0"}):
        refused = guarded.request("GET", "/metrics", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert "roster_" not in refused.text
    samples = scrape(guarded, Authorization="Bearer " + "t" * 32)
    assert value(samples, "roster_store_up") == 1


def test_metrics_are_not_in_the_openapi_document(roster: Harness) -> None:
    """/metrics is for operators: the API's document leaves it out."""
    assert "/metrics" not in roster.request("GET", "/openapi.json").json()["paths"]
