"""Customer.io backfills through Data Pipelines and Track API v1 (SPEC §6, seed 002), on both
stores: event times and ``can_trigger``, ordered attributes, ``_update``, event-id dedupe."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from roster.bootstrap import Container
from roster.domain.timestamps import format_ms
from roster.store.database import Database
from roster_testkit import Harness, basic

SEED_002 = Path(__file__).parents[1] / "data" / "seed_002_track.json"
HOUR_S = 3600
DAY_S = 24 * HOUR_S


def issues(batch: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [i for i in batch["errors"] + batch["warnings"] if i["code"] == code]


def test_seed_002_is_stored_at_its_utc_time_and_cannot_trigger(roster: Harness) -> None:
    """The seed's curl, unchanged: ``/v1/api/track`` with ``-u api_key:`` and unix seconds."""
    t = roster.tenant()
    body = SEED_002.read_bytes()
    response = roster.cio(t, "/v1/api/track", body)
    assert response.status_code == 200, response.text
    assert response.json()["success"] is True
    roster.drain()
    batch = roster.batch(t, response.json()["batch_id"])
    assert batch["kind"] == "customerio"
    assert batch["counts"] == {"total": 1, "applied": 1, "skipped": 0, "failed": 0}
    (event,) = roster.events(t, "5")
    assert event["name"] == "purchased"
    assert event["occurred_at"] == "2013-01-28T16:10:15.000Z"
    assert event["attributes"] == {"price": 23.45}
    assert event["can_trigger"] is False
    assert roster.get("/v1/customers/5/activity", t).json() == {"events": []}


def test_an_event_one_hour_old_can_trigger(roster: Harness) -> None:
    t = roster.tenant()
    at = int(time.time()) - HOUR_S
    body = {"userId": "5", "event": "purchased", "properties": {"price": 1}, "timestamp": at}
    roster.cio_batch(t, "/v1/track", body)
    (event,) = roster.events(t, "5")
    assert event["occurred_at"] == format_ms(at * 1000)
    assert event["can_trigger"] is True


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2024-04-08T09:09:45.726Z", "2024-04-08T09:09:45.726Z"),
        ("2024-04-08T11:09:45+02:00", "2024-04-08T09:09:45.000Z"),
        (1712567385, "2024-04-08T09:09:45.000Z"),
        (1712567385726, "2024-04-08T09:09:45.726Z"),
        ("1712567385726", "2024-04-08T09:09:45.726Z"),
    ],
)
def test_event_times_in_every_accepted_form(roster: Harness, timestamp: Any, expected: str) -> None:
    t = roster.tenant()
    roster.cio_batch(t, "/v1/track", {"userId": "u", "event": "e", "timestamp": timestamp})
    assert [e["occurred_at"] for e in roster.events(t, "u")] == [expected]


def test_activity_shows_the_last_30_days_and_events_shows_all(roster: Harness) -> None:
    t = roster.tenant()
    now = int(time.time())
    calls = [
        {"type": "track", "userId": "u", "event": "old", "timestamp": now - 31 * DAY_S},
        {"type": "track", "userId": "u", "event": "recent", "timestamp": now - 29 * DAY_S},
    ]
    roster.cio_batch(t, "/v1/batch", {"batch": calls})
    assert {e["name"] for e in roster.events(t, "u")} == {"old", "recent"}
    activity = roster.get("/v1/customers/u/activity", t).json()["events"]
    assert [e["name"] for e in activity] == ["recent"]
    assert all(e["can_trigger"] is False for e in roster.events(t, "u"))


def test_shuffled_identify_calls_end_with_the_newest_values(roster: Harness) -> None:
    """1,000 identify calls for one person, ``_timestamp``s shuffled: the newest wins, and every
    stale update sent is reported, with both times."""
    t = roster.tenant()
    base = int(time.time()) - 2_000 * HOUR_S
    stamps = [base + i * 60 for i in range(1000)]
    random.Random(7).shuffle(stamps)
    calls = [
        (
            "POST",
            "/v1/identify",
            {
                "headers": t.pipelines,
                "json": {
                    "userId": "ana",
                    "traits": {"plan": f"plan-{stamp}", "sent": n, "_timestamp": stamp},
                },
            },
        )
        for n, stamp in enumerate(stamps)
    ]
    responses = roster.request_all(calls)
    assert {r.status_code for r in responses} == {200}
    batch_ids = [r.json()["batch_id"] for r in responses]
    roster.drain(timeout=120)
    newest = max(stamps)
    stale_calls = sum(1 for i, s in enumerate(stamps) if s < max(stamps[: i + 1]))
    profile = roster.customer(t, "ana")
    assert profile is not None
    assert profile["attributes"] == {"plan": f"plan-{newest}", "sent": stamps.index(newest)}
    assert profile["attribute_times"]["plan"] == format_ms(newest * 1000)
    batches = [
        r.json()
        for r in roster.request_all(
            [("GET", f"/v1/batches/{b}", {"headers": t.auth}) for b in batch_ids]
        )
    ]
    stale = [w for b in batches for w in issues(b, "stale_attribute_skipped")]
    assert len(stale) == 2 * stale_calls  # two attributes per call
    assert {w["field"] for w in stale} == {"traits.plan", "traits.sent"}
    assert all("is older than the stored value written at" in w["message"] for w in stale)
    counts = [b["counts"] for b in batches]
    assert all(c == {"total": 1, "applied": 1, "skipped": 0, "failed": 0} for c in counts)


def test_a_retried_track_is_stored_once(roster: Harness) -> None:
    """The same ``messageId`` in one request, in a later request, and after a restart."""
    t = roster.tenant()
    call = {"type": "track", "userId": "u", "event": "paid", "messageId": "m-1"}
    first = roster.cio_batch(t, "/v1/batch", {"batch": [call, call]})
    batch = roster.batch(t, first)
    assert batch["counts"] == {"total": 2, "applied": 1, "skipped": 1, "failed": 0}
    (dup,) = issues(batch, "duplicate_ignored")
    assert dup["index"] == 1
    assert dup["field"] == "messageId"
    assert first in dup["message"]
    again = roster.cio_batch(t, "/v1/track", call)
    assert roster.batch(t, again)["counts"]["skipped"] == 1

    # After a restart: a new connection pool, app and worker on the same store.
    settings = roster.container.settings
    db = Database(settings.database_url, pool_size=2)
    try:
        restarted = Harness(Container(settings, db))
        later = restarted.cio_batch(t, "/v1/api/track", call)
        assert restarted.batch(t, later)["counts"] == {
            "total": 1,
            "applied": 0,
            "skipped": 1,
            "failed": 0,
        }
        assert len(restarted.events(t, "u")) == 1
    finally:
        db.dispose()


def test_event_ids_are_deduplicated_across_grouped_batches(roster: Harness) -> None:
    """Batches applied together in one group still store each id once, the first one."""
    t = roster.tenant()
    ids = []
    for n in range(5):
        body = {"userId": "u", "event": f"e{n}", "messageId": "same"}
        response = roster.cio(t, "/v1/track", body)
        ids.append(response.json()["batch_id"])
    roster.drain()
    assert [e["name"] for e in roster.events(t, "u")] == ["e0"]
    assert [roster.batch(t, b)["counts"]["applied"] for b in ids] == [1, 0, 0, 0, 0]


def test_update_true_never_creates_a_person(roster: Harness) -> None:
    t = roster.tenant()
    traits = {"plan": "gold", "_update": True}
    batch_id = roster.cio_batch(t, "/v1/identify", {"userId": "ghost", "traits": traits})
    batch = roster.batch(t, batch_id)
    assert batch["counts"] == {"total": 1, "applied": 0, "skipped": 1, "failed": 0}
    assert issues(batch, "unknown_customer")[0]["key"] == "ghost"
    assert roster.customer(t, "ghost") is None
    put = {"plan": "gold", "_update": True}
    v1 = roster.cio_batch(t, "/api/v1/customers/ghost", put, method="PUT")
    assert issues(roster.batch(t, v1), "unknown_customer")
    assert roster.customer(t, "ghost") is None
    roster.cio_batch(t, "/v1/identify", {"userId": "ghost", "traits": {"plan": "free"}})
    roster.cio_batch(t, "/api/v1/customers/ghost", put, method="PUT")
    assert roster.customer(t, "ghost")["attributes"] == {"plan": "gold"}  # type: ignore[index]


def test_track_v1_people_and_events(roster: Harness) -> None:
    """``PUT /api/v1/customers/{id}`` with ``_timestamp``, ``email``, ``created_at``; events
    with ``id``, ``type`` and ``data``; an email in the path finds the person by email."""
    t = roster.tenant()
    now = int(time.time())
    person = {"email": "Ana@Example.com", "created_at": now - DAY_S, "plan": "pro"}
    response = roster.cio(
        t, "/api/v1/customers/42", {**person, "_timestamp": now - 60}, method="PUT"
    )
    assert response.status_code == 200, response.text
    roster.drain()
    older = {"plan": "free", "_timestamp": now - 120}
    stale_batch = roster.cio_batch(t, "/api/v1/customers/ana@example.com", older, method="PUT")
    (stale,) = issues(roster.batch(t, stale_batch), "stale_attribute_skipped")
    assert stale["field"] == "attributes.plan"
    profile = roster.customer(t, "42")
    assert profile is not None
    assert profile["attributes"] == {
        "email": "Ana@Example.com",
        "created_at": now - DAY_S,
        "plan": "pro",
    }
    event = {"name": "viewed", "id": "01HZX", "type": "page", "timestamp": now, "data": {"a": 1}}
    first = roster.cio_batch(t, "/api/v1/customers/ANA@example.com/events", event)
    again = roster.cio_batch(t, "/api/v1/customers/42/events", event)
    assert roster.batch(t, first)["counts"]["applied"] == 1
    assert issues(roster.batch(t, again), "duplicate_ignored")[0]["field"] == "id"
    (stored,) = roster.events(t, "42")
    assert (stored["name"], stored["attributes"], stored["can_trigger"]) == (
        "viewed",
        {"a": 1},
        True,
    )


def test_an_email_path_creates_a_person_holding_that_email(roster: Harness) -> None:
    t = roster.tenant()
    roster.cio_batch(t, "/api/v1/customers/new@example.com", {"plan": "x"}, method="PUT")
    roster.cio_batch(t, "/api/v1/customers/new@example.com", {"seats": 3}, method="PUT")
    found = roster.get("/v1/customers?email=new@example.com", t).json()
    assert found["customer_id"] is None
    assert found["attributes"] == {"email": "new@example.com", "plan": "x", "seats": 3}


def test_an_email_path_with_the_id_of_a_known_person_gives_that_person_the_email(
    roster: Harness,
) -> None:
    t = roster.tenant()
    roster.cio_batch(t, "/api/v1/customers/7", {"plan": "x"}, method="PUT")
    roster.cio_batch(
        t, "/api/v1/customers/seven@example.com", {"id": "7", "seats": 2}, method="PUT"
    )
    assert roster.customer(t, "7")["attributes"] == {  # type: ignore[index]
        "plan": "x",
        "seats": 2,
        "email": "seven@example.com",
    }
    found = roster.get("/v1/customers?email=SEVEN@example.com", t).json()
    assert found["customer_id"] == "7"


def test_a_body_id_other_than_the_path_fails_the_element(roster: Harness) -> None:
    t = roster.tenant()
    batch_id = roster.cio_batch(t, "/api/v1/customers/1", {"id": "2", "a": 1}, method="PUT")
    batch = roster.batch(t, batch_id)
    assert batch["counts"]["failed"] == 1
    assert issues(batch, "identifier_conflict")[0]["field"] == "id"
    assert roster.customer(t, "1") is None


def test_element_problems_go_to_the_ledger_and_the_rest_applies(roster: Harness) -> None:
    t = roster.tenant()
    future = int(time.time()) + 3600
    calls = [
        {"type": "track", "event": "no-user"},
        {"type": "track", "userId": "u", "event": "late", "timestamp": future},
        {"type": "track", "userId": "u", "event": "", "timestamp": 1712567385},
        {"type": "track", "userId": "u", "event": "e", "properties": [1]},
        {"type": "identify", "userId": "u", "traits": "gold"},
        {"type": "identify", "userId": True, "traits": {}},
        {"type": "track", "userId": "u", "event": "ok", "messageId": {"x": 1}},
        {"type": "group", "userId": "u", "groupId": "g"},  # applied: u joins g
        {"type": "identify", "userId": 7, "traits": {"id": 1, "nested": {"a": 1}, "ok": 1}},
        {"type": "track", "userId": "u", "event": "fine"},
    ]
    batch = roster.batch(t, roster.cio_batch(t, "/v1/batch", {"batch": calls}))
    assert batch["counts"] == {"total": 10, "applied": 3, "skipped": 0, "failed": 7}
    found = {(i["index"], i["field"], i["code"]) for i in batch["errors"] + batch["warnings"]}
    assert found == {
        (0, "userId", "missing_field"),
        (1, "timestamp", "invalid_timestamp"),
        (2, "event", "missing_field"),
        (3, "properties", "invalid_field"),
        (4, "traits", "invalid_field"),
        (5, "userId", "invalid_customer_id"),
        (6, "messageId", "invalid_field"),
        (8, "traits.id", "invalid_attribute_name"),
    }
    # Nested traits are kept whole (Customer.io's objects)
    assert roster.customer(t, "7")["attributes"] == {"nested": {"a": 1}, "ok": 1}  # type: ignore[index]
    assert [e["name"] for e in roster.events(t, "u")] == ["fine"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/batch", {"batch": []}, "batch"),
        ("/v1/batch", {"events": []}, "batch"),
        ("/v1/batch", {"batch": [{"type": "identify"}, 3]}, "batch[1]"),
        ("/v1/batch", {"batch": [{"type": "Track"}]}, "batch[0].type"),
        ("/v1/identify", [{"userId": "u"}], "$"),
        ("/api/v1/customers/u", "text", "$"),
    ],
)
def test_a_wrong_envelope_is_refused_and_nothing_stored(
    roster: Harness, path: str, body: Any, field: str
) -> None:
    t = roster.tenant()
    method = "PUT" if path.startswith("/api/v1/customers/") else "POST"
    response = roster.cio(t, path, body, method=method)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == field
    assert roster.stored_batches() == 0


def test_malformed_json_and_oversized_batches_are_refused(roster: Harness) -> None:
    t = roster.tenant()
    dup = b'{"userId": "u", "userId": "v", "event": "e"}'
    response = roster.cio(t, "/v1/track", dup)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    big = {"batch": [{"type": "track", "userId": "u", "event": "e" * 200}] * 2600}
    assert len(json.dumps(big)) > 512_000
    assert roster.cio(t, "/v1/batch", big).status_code == 413
    assert roster.stored_batches() == 0


@pytest.mark.parametrize("form", ["pipelines", "workspace", "bearer"])
def test_every_credential_form_is_accepted(roster: Harness, form: str) -> None:
    t = roster.tenant()
    auth = {
        "pipelines": basic(t.key, ""),
        "workspace": basic(t.id, t.key),
        "bearer": f"Bearer {t.key}",
    }[form]
    headers = {"Authorization": auth, "Content-Type": "application/json"}
    body = json.dumps({"userId": "u", "traits": {"a": 1}}).encode()
    response = roster.request("POST", "/v1/identify", content=body, headers=headers)
    assert response.status_code == 200, response.text
    wrong = {"Authorization": basic("nope", ""), "Content-Type": "application/json"}
    assert roster.request("POST", "/v1/identify", content=body, headers=wrong).status_code == 401


def test_a_person_with_events_in_one_batch_keeps_request_order(roster: Harness) -> None:
    """An identify after a track of a new person applies to the person the track created."""
    t = roster.tenant()
    calls = [
        {"type": "track", "userId": "n", "event": "signed_up", "messageId": "a"},
        {"type": "identify", "userId": "n", "traits": {"plan": "trial"}},
        {"type": "page", "userId": "n", "properties": {"url": "https://x.io/pricing"}},
        {"type": "screen", "userId": "n", "name": "Home"},
    ]
    batch = roster.batch(t, roster.cio_batch(t, "/v1/batch", {"batch": calls}))
    assert batch["counts"]["applied"] == 4
    assert roster.customer(t, "n")["attributes"] == {"plan": "trial"}  # type: ignore[index]
    names = sorted(e["name"] for e in roster.events(t, "n"))
    assert names == ["Home", "https://x.io/pricing", "signed_up"]
