"""SPEC §3 idempotency: a retried request returns the first batch_id and applies nothing again."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from roster_testkit import Harness, Tenant


def body(customer_id: str = "c1", action: str = "Opened") -> bytes:
    elements = [
        {"type": "customer", "customer_id": customer_id, "attributes": {"name": "Ada"}},
        {"type": "event", "customer_id": customer_id, "actions": [{"action": action}]},
    ]
    return json.dumps({"type": "transition", "elements": elements}).encode()


def post(roster: Harness, tenant: Tenant, payload: bytes, key: str | None) -> Any:
    headers = {} if key is None else {"Idempotency-Key": key}
    return roster.post_raw(tenant, payload, **headers)


def test_same_key_and_body_returns_the_first_batch_and_applies_once(roster: Harness) -> None:
    """The same Idempotency-Key and body sent 3 times gets one batch_id (the retries marked
    Idempotent-Replayed) and applies once."""
    tenant = roster.tenant()
    first = post(roster, tenant, body(), "order-42")
    assert first.status_code == 200, first.text
    batch_id = first.json()["batch_id"]
    second = post(roster, tenant, body(), "order-42")
    roster.drain()
    third = post(roster, tenant, body(), "order-42")  # a retry after the batch was applied
    roster.drain()
    assert "Idempotent-Replayed" not in first.headers
    for retry in (second, third):
        assert retry.status_code == 200, retry.text
        assert retry.json() == first.json()
        assert retry.headers["Idempotent-Replayed"] == "true"
    assert roster.batch_ids(tenant) == [batch_id]
    assert roster.stored_batches() == 1
    assert roster.batch(tenant, batch_id)["counts"]["applied"] == 2
    assert [e["name"] for e in roster.events(tenant, "c1")] == ["Opened"]


def test_same_key_with_a_different_body_is_422_and_stores_nothing(roster: Harness) -> None:
    """Reusing an Idempotency-Key with a different body gets 422 idempotency_key_reused."""
    tenant = roster.tenant()
    first = post(roster, tenant, body("c1"), "k-1")
    assert first.status_code == 200, first.text
    for other in (body("c2"), body("c1", action="Closed"), body("c1") + b"\n"):
        response = post(roster, tenant, other, "k-1")
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "idempotency_key_reused"
        assert error["field"] == "Idempotency-Key"
    roster.drain()
    assert roster.batch_ids(tenant) == [first.json()["batch_id"]]
    assert roster.stored_batches() == 1
    assert roster.customer(tenant, "c2") is None
    assert [e["name"] for e in roster.events(tenant, "c1")] == ["Opened"]


@pytest.mark.parametrize(
    "key", [pytest.param("k" * 256, id="256-chars"), pytest.param("   ", id="blank")]
)
def test_invalid_idempotency_key_is_400(roster: Harness, key: str) -> None:
    """An Idempotency-Key of 256 characters (or blank) is refused with 400; nothing stored."""
    tenant = roster.tenant()
    response = post(roster, tenant, body(), key)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_idempotency_key"
    assert error["field"] == "Idempotency-Key"
    assert roster.batch_ids(tenant) == []
    assert roster.stored_batches() == 0


def test_255_character_key_is_accepted(roster: Harness) -> None:
    """An Idempotency-Key of exactly 255 characters is accepted and replays."""
    tenant = roster.tenant()
    key = "k" * 255
    first = post(roster, tenant, body(), key)
    assert first.status_code == 200, first.text
    assert post(roster, tenant, body(), key).json()["batch_id"] == first.json()["batch_id"]
    assert roster.stored_batches() == 1


def test_key_is_scoped_to_its_workspace(roster: Harness) -> None:
    """Two workspaces using the same key and body get their own batches, both applied."""
    a, b = roster.tenant("a"), roster.tenant("b")
    ra = post(roster, a, body(), "shared-key")
    rb = post(roster, b, body(), "shared-key")
    assert ra.status_code == rb.status_code == 200
    assert ra.json()["batch_id"] != rb.json()["batch_id"]
    roster.drain()
    for tenant, response in ((a, ra), (b, rb)):
        assert roster.batch_ids(tenant) == [response.json()["batch_id"]]
        assert roster.batch(tenant, response.json()["batch_id"])["counts"]["applied"] == 2
        assert [e["name"] for e in roster.events(tenant, "c1")] == ["Opened"]


def test_refused_request_does_not_consume_its_key(roster: Harness) -> None:
    """A key first sent with a refused request (400) still works for the corrected request."""
    tenant = roster.tenant()
    bad = post(roster, tenant, b'{"type": "transition", "elements": []}', "k-2")
    assert bad.status_code == 400
    good = post(roster, tenant, body(), "k-2")
    assert good.status_code == 200, good.text
    assert roster.batch_ids(tenant) == [good.json()["batch_id"]]


def test_without_a_key_every_request_is_a_new_batch(roster: Harness) -> None:
    """Without an Idempotency-Key the same body sent twice makes two batches."""
    tenant = roster.tenant()
    ids = {post(roster, tenant, body(), None).json()["batch_id"] for _ in range(2)}
    assert len(ids) == 2
    roster.drain()
    assert [e["name"] for e in roster.events(tenant, "c1")] == ["Opened", "Opened"]


def test_replay_is_not_charged_against_the_rate_limit(roster: Harness) -> None:
    """A retry of an accepted request returns its batch_id even when the budget is spent."""
    tenant = roster.tenant(users_per_minute=1)
    if 60 - time.time() % 60 < 3:  # keep the three requests inside one rate window
        time.sleep(60 - time.time() % 60)
    first = post(roster, tenant, body(), "k-3")
    assert first.status_code == 200, first.text
    assert post(roster, tenant, body(), "k-4").status_code == 429  # the budget is spent
    retry = post(roster, tenant, body(), "k-3")
    assert retry.status_code == 200, retry.text
    assert retry.json()["batch_id"] == first.json()["batch_id"]
    assert roster.stored_batches() == 1


def test_concurrent_requests_with_one_key_make_one_batch(roster: Harness) -> None:
    """Eight concurrent requests with the same key and body all get the same batch_id."""
    tenant = roster.tenant()
    headers = {**tenant.json_auth, "Idempotency-Key": "race"}

    async def send_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=roster.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://roster") as client:
            sends = [
                client.post(f"/v1/transition/{tenant.id}", content=body(), headers=headers)
                for _ in range(8)
            ]
            return list(await asyncio.gather(*sends))

    responses = asyncio.run(send_all())
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    assert len({r.json()["batch_id"] for r in responses}) == 1
    assert roster.stored_batches() == 1
    roster.drain()
    assert [e["name"] for e in roster.events(tenant, "c1")] == ["Opened"]
