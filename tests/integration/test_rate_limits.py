"""SPEC §3 rate limits: per workspace, per minute; over the limit → 429 and nothing stored."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from roster.settings import Settings
from roster.store import ratelimit
from roster.store.schema import rate_windows
from roster_testkit import Harness


@pytest.fixture(autouse=True)
def one_window() -> None:
    """Start each test early enough in a minute that its requests share one rate window."""
    left = 60 - time.time() % 60
    if left < 5:
        time.sleep(left + 0.05)


def customers(*ids: str) -> list[dict[str, Any]]:
    return [{"type": "customer", "customer_id": i, "attributes": {"n": i}} for i in ids]


def event(customer_id: str, actions: int) -> dict[str, Any]:
    return {
        "type": "event",
        "customer_id": customer_id,
        "actions": [{"action": f"a{n}"} for n in range(actions)],
    }


def assert_429(response: httpx.Response, *, limit: int, remaining: int) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "rate_limited"
    headers = response.headers
    retry_after = headers["Retry-After"]
    assert retry_after.isdigit()
    assert 1 <= int(retry_after) <= 60
    assert headers["X-RateLimit-Limit"] == str(limit)
    assert headers["X-RateLimit-Remaining"] == str(remaining)
    reset = int(headers["X-RateLimit-Reset"])
    assert time.time() - 1 <= reset <= time.time() + 61


def test_users_over_the_limit_get_429_and_nothing_is_stored(roster: Harness) -> None:
    """Over users_per_minute → 429 with Retry-After and X-RateLimit-* headers; nothing stored."""
    tenant = roster.tenant(users_per_minute=3)
    first = roster.transition(tenant, customers("c1", "c2"))
    assert first.status_code == 200, first.text
    over = roster.transition(tenant, customers("c3", "c4"))
    assert_429(over, limit=3, remaining=1)
    assert roster.batch_ids(tenant) == [first.json()["batch_id"]]
    assert roster.stored_batches() == 1
    roster.drain()
    assert roster.customer(tenant, "c3") is None
    assert roster.customer(tenant, "c4") is None


def test_refused_request_is_not_charged(roster: Harness) -> None:
    """A 429 request uses none of the budget: what remains can still be spent."""
    tenant = roster.tenant(users_per_minute=3)
    assert roster.transition(tenant, customers("c1", "c2")).status_code == 200
    assert roster.transition(tenant, customers("c3", "c4")).status_code == 429
    assert roster.transition(tenant, customers("c3", "c4")).status_code == 429
    fits = roster.transition(tenant, customers("c3"))
    assert fits.status_code == 200, fits.text
    assert_429(roster.transition(tenant, customers("c4")), limit=3, remaining=0)
    assert roster.stored_batches() == 2


def test_events_over_the_limit_get_429(roster: Harness) -> None:
    """Over events_per_minute (counted per action) → 429 naming the limit; nothing stored."""
    tenant = roster.tenant(events_per_minute=3)
    first = roster.transition(tenant, [event("c1", 2)])
    assert first.status_code == 200, first.text
    over = roster.transition(tenant, [event("c2", 2)])
    assert_429(over, limit=3, remaining=1)
    assert "events" in over.json()["error"]["message"]
    roster.drain()
    assert roster.customer(tenant, "c2") is None
    assert len(roster.events(tenant, "c1")) == 2
    assert roster.batch_ids(tenant) == [first.json()["batch_id"]]


def test_a_request_larger_than_the_whole_budget_is_422(roster: Harness) -> None:
    """A single request holding more users than the per-minute limit can never pass: it is
    refused with 422 (split it), not 429 (wait), charges nothing and stores nothing."""
    tenant = roster.tenant(users_per_minute=2)
    response = roster.transition(tenant, customers("c1", "c2", "c3"))
    assert response.status_code == 422, response.text
    assert "Retry-After" not in response.headers
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("too_many_elements", "elements")
    assert "split it" in error["message"]
    assert roster.stored_batches() == 0
    assert roster.transition(tenant, customers("c1", "c2")).status_code == 200


def test_requests_within_budget_succeed(roster: Harness) -> None:
    """Requests adding up to exactly the limit all succeed; the next one is 429."""
    tenant = roster.tenant(users_per_minute=5, events_per_minute=5)
    for n in range(5):
        response = roster.transition(tenant, [*customers(f"c{n}"), event(f"c{n}", 1)])
        assert response.status_code == 200, response.text
    assert_429(roster.transition(tenant, customers("c9")), limit=5, remaining=0)
    assert len(roster.batch_ids(tenant)) == 5


def test_a_second_workspace_is_unaffected(roster: Harness) -> None:
    """One workspace over its limit does not limit another workspace."""
    limited = roster.tenant("limited", users_per_minute=1)
    other = roster.tenant("other", users_per_minute=1)
    free = roster.tenant("free")
    assert roster.transition(limited, customers("c1")).status_code == 200
    assert roster.transition(limited, customers("c2")).status_code == 429
    for tenant in (other, free):
        response = roster.transition(tenant, customers("c1"))
        assert response.status_code == 200, response.text
        assert roster.batch_ids(tenant) == [response.json()["batch_id"]]


def big_request(start: int, count: int) -> list[dict[str, Any]]:
    return [{"type": "customer", "customer_id": f"u{n}"} for n in range(start, start + count)]


def test_vendor_limits_allow_10000_users_per_minute(roster: Harness) -> None:
    """With limits="vendor", 10,000 users a minute are accepted and the next one is 429."""
    tenant = roster.tenant(limits="vendor")
    for n in range(5):
        response = roster.transition(tenant, big_request(n * 2000, 2000))
        assert response.status_code == 200, response.text
    assert_429(roster.transition(tenant, big_request(10_000, 1)), limit=10_000, remaining=0)
    assert len(roster.batch_ids(tenant)) == 5


def test_default_workspace_is_unlimited(roster: Harness) -> None:
    """A workspace with default settings accepts more than the vendors' per-minute limits."""
    assert Settings.model_fields["default_limits"].default == "none"
    tenant = roster.tenant()
    for n in range(6):
        response = roster.transition(tenant, big_request(n * 2000, 2000))
        assert response.status_code == 200, response.text
        assert "X-RateLimit-Limit" not in response.headers
    actions = {"type": "event", "customer_id": "c", "actions": [{"action": "a"}] * 5000}
    for _ in range(7):  # 35,000 events, over the vendors' 30,000
        assert roster.transition(tenant, [actions]).status_code == 200
    assert len(roster.batch_ids(tenant)) == 13


def test_setting_a_limit_to_zero_makes_it_unlimited_again(roster: Harness) -> None:
    """configure(users_per_minute=0) lifts the limit."""
    from roster.services.admin import workspace_admin

    tenant = roster.tenant(users_per_minute=1)
    assert roster.transition(tenant, customers("c1")).status_code == 200
    assert roster.transition(tenant, customers("c2")).status_code == 429
    workspace_admin.configure(roster.db, tenant.id, users_per_minute=0)
    assert roster.transition(tenant, customers("c2")).status_code == 200


def test_malformed_request_is_not_charged(roster: Harness) -> None:
    """A request refused at the door (400) uses none of the budget."""
    tenant = roster.tenant(users_per_minute=1)
    bad = {"type": "transition", "elements": [*customers("c1"), {"type": "CUSTOMER"}]}
    assert roster.post_raw(tenant, json.dumps(bad).encode()).status_code == 400
    assert roster.transition(tenant, customers("c1")).status_code == 200


def test_idle_workers_forget_rate_windows_older_than_an_hour(roster: Harness) -> None:
    """An idle worker deletes rate-limit windows over an hour old and keeps the current one."""
    now = int(time.time() * 1000)
    with roster.db.write() as conn:
        ratelimit.charge(conn, "WS", now - 2 * 3_600_000, 1, 1)
        ratelimit.charge(conn, "WS", now - now % 60_000, 1, 1)
    roster.worker.housekeeping.run_if_due()
    with roster.db.read() as conn:
        kept = conn.execute(sa.select(rate_windows.c.window_start)).scalars().all()
    assert kept == [now - now % 60_000]
