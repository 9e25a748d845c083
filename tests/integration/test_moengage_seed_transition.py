"""The MoEngage Bulk Import sample request (seed 001), posted unchanged."""

from __future__ import annotations

from pathlib import Path

from roster_testkit import Harness

SEED = (Path(__file__).parent.parent / "data" / "seed_001_transition.json").read_bytes()
SAMPLE_TIME = "2024-04-08T09:09:45.726Z"  # "1712567385726" (epoch ms, UTC)


def test_seed_request_is_accepted_with_the_vendor_body_and_a_batch_id(roster: Harness) -> None:
    """The sample request is answered 200 with MoEngage's body plus a batch_id."""
    tenant = roster.tenant()
    response = roster.post_raw(tenant, SEED)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["message"] == "Your request has been accepted and will be processed soon."
    assert body["batch_id"]


def test_seed_batch_ends_done_with_every_element_accounted_for(roster: Harness) -> None:
    """The batch ends done: 6 elements applied, the 3 placeholder devices failed at 3, 4, 5."""
    tenant = roster.tenant()
    batch_id = roster.post_raw(tenant, SEED).json()["batch_id"]
    roster.drain()
    batch = roster.batch(tenant, batch_id)
    assert batch["status"] == "done"
    assert batch["counts"] == {"total": 9, "applied": 6, "skipped": 0, "failed": 3}
    errors = [(e["index"], e["key"], e["field"], e["code"]) for e in batch["errors"]]
    assert errors == [
        (3, "AZ8TM", "attributes.platform", "invalid_platform"),
        (4, "9yt8q8", "attributes.platform", "invalid_platform"),
        (5, "ONfYcF", "attributes.platform", "invalid_platform"),
    ]
    warned = {(w["index"], w["field"], w["code"]) for w in batch["warnings"]}
    assert warned == {
        (6, "actions[0].platform", "invalid_platform"),
        (7, "actions[0].platform", "invalid_platform"),
        (8, "actions[0].platform", "invalid_platform"),
    }


def test_seed_customers_hold_their_attributes(roster: Harness) -> None:
    """The three customers exist with their names and canonical platforms."""
    tenant = roster.tenant()
    roster.post_raw(tenant, SEED)
    roster.drain()
    expected = {"AZ8TM": ("qjDKn", "iOS"), "9yt8q8": ("5Np", "ANDROID"), "ONfYcF": ("U92", "web")}
    for customer_id, (name, platform) in expected.items():
        profile = roster.customer(tenant, customer_id)
        assert profile is not None
        assert profile["attributes"]["name"] == name
        assert profile["attributes"]["platforms"] == [{"platform": platform, "active": True}]
        assert profile["devices"] == []  # the seed's devices carry placeholder platforms
        assert profile["reachable"] is False


def test_seed_event_for_unknown_customer_creates_it(roster: Harness) -> None:
    """The event for 'ONfYc' (not 'ONfYcF') creates that customer, holding both its events."""
    tenant = roster.tenant()
    roster.post_raw(tenant, SEED)
    roster.drain()
    created = roster.customer(tenant, "ONfYc")
    assert created is not None
    assert created["attributes"] == {}
    names = sorted(e["name"] for e in roster.events(tenant, "ONfYc"))
    assert names == ["A6CO5", "wuDX8"]


def test_seed_events_are_stored_at_the_right_utc_time(roster: Harness) -> None:
    """Every seed event is stored at 2024-04-08T09:09:45.726Z, read from epoch milliseconds."""
    tenant = roster.tenant()
    roster.post_raw(tenant, SEED)
    roster.drain()
    for customer_id in ("ONfYc", "9yt8q8", "ONfYcF"):
        events = roster.events(tenant, customer_id)
        assert len(events) == 2
        assert {e["occurred_at"] for e in events} == {SAMPLE_TIME}
        assert all(e["can_trigger"] is False for e in events)  # older than 72 hours
    purchase = next(e for e in roster.events(tenant, "9yt8q8") if e["name"] == "Purchase")
    assert purchase["platform"] == "iOS"
    assert purchase["attributes"] == {"product": "MacBook Air", "brand": "Apple"}
