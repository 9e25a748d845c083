"""Merge Users (MoEngage, SPEC §5.2, seed 004) and merge_customers (Customer.io, SPEC §6), on
both stores: the seed's FAQ one answer per test, non-transitivity, failing pairs, the door's
rules, the journal and the timeline."""

from __future__ import annotations

import json
import time
from typing import Any

from roster_testkit import Harness, Tenant

DAY_MS = 24 * 3600 * 1000


def now_ms() -> int:
    return int(time.time() * 1000)


def customer(cid: str, **attributes: Any) -> dict[str, Any]:
    return {"type": "customer", "customer_id": cid, "attributes": attributes}


def device(cid: str, did: str, push_id: str = "token", **extra: Any) -> dict[str, Any]:
    attributes = {"platform": "ANDROID", "push_id": push_id, **extra}
    return {"type": "device", "customer_id": cid, "device_id": did, "attributes": attributes}


def event(cid: str, name: str, at_ms: int) -> dict[str, Any]:
    return {
        "type": "event",
        "customer_id": cid,
        "actions": [{"action": name, "current_time": at_ms}],
    }


def load(roster: Harness, t: Tenant, elements: list[dict[str, Any]]) -> None:
    response = roster.transition(t, elements)
    assert response.status_code == 200, response.text
    roster.drain()
    batch = roster.batch(t, response.json()["batch_id"])
    assert batch["counts"]["failed"] == 0, batch


def merge_request(roster: Harness, t: Tenant, pairs: list[tuple[str, str]], **kw: Any) -> Any:
    body = {"merge_data": [{"merged_user": m, "retained_user": r} for m, r in pairs]}
    return roster.request(
        "POST",
        f"/v1/customer/merge?app_id={kw.get('app_id', t.id)}",
        content=json.dumps(body).encode(),
        headers=t.json_auth,
    )


def merge(roster: Harness, t: Tenant, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Merge the pairs (merged, retained); apply; return the batch."""
    response = merge_request(roster, t, pairs)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success"
    assert body["operation"] == "created"
    roster.drain()
    return roster.batch(t, body["batch_id"])


def by_uid(roster: Harness, t: Tenant, uid: int) -> dict[str, Any]:
    response = roster.get(f"/v1/customers?uid={uid}", t)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def uid_events(roster: Harness, t: Tenant, uid: int) -> list[dict[str, Any]]:
    response = roster.get(f"/v1/uids/{uid}/events?limit=10000", t)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()["events"]
    return result


def profile(roster: Harness, t: Tenant, cid: str) -> dict[str, Any]:
    found = roster.customer(t, cid)
    assert found is not None, cid
    return found


def test_attributes_move_and_the_merged_users_value_wins(roster: Harness) -> None:
    """FAQ: "All the user attributes of the merged user are moved to the retained user"; an
    attribute only the retained user has is kept."""
    t = roster.tenant()
    load(
        roster,
        t,
        [
            customer("A", city="Lima", plan="gold", email="a@x.io"),
            customer("B", city="Quito", tier_note="vip"),
        ],
    )
    batch = merge(roster, t, [("A", "B")])
    assert batch["counts"] == {"total": 1, "applied": 1, "skipped": 0, "failed": 0}
    b = profile(roster, t, "B")
    assert b["attributes"] == {
        "city": "Lima",
        "plan": "gold",
        "email": "a@x.io",
        "tier_note": "vip",
    }
    assert b["identifiers"] == {"email": "a@x.io"}
    found = roster.get("/v1/customers?email=A@X.io", t).json()
    assert found["customer_id"] == "B"


def test_devices_move_and_reachability_is_recomputed(roster: Harness) -> None:
    """FAQ: devices of the merged user are associated with the retained user, whose
    reachability is recalculated from the devices it has after the merge."""
    t = roster.tenant()
    load(roster, t, [customer("A"), customer("B"), device("A", "d1"), device("A", "d2")])
    assert profile(roster, t, "B")["reachable"] is False
    merge(roster, t, [("A", "B")])
    b = profile(roster, t, "B")
    assert sorted(d["device_id"] for d in b["devices"]) == ["d1", "d2"]
    assert b["reachable"] is True


def test_an_opted_out_device_moved_in_does_not_make_the_user_reachable(roster: Harness) -> None:
    t = roster.tenant()
    load(roster, t, [customer("A"), customer("B"), device("A", "d1", moe_push_opted="false")])
    merge(roster, t, [("A", "B")])
    b = profile(roster, t, "B")
    assert [d["device_id"] for d in b["devices"]] == ["d1"]
    assert b["reachable"] is False


def test_users_without_devices_merge_and_stay_unreachable(roster: Harness) -> None:
    """FAQ: users with or without devices may be merged; with no device on either side the
    user is not reachable."""
    t = roster.tenant()
    load(roster, t, [customer("A", x=1), customer("B")])
    batch = merge(roster, t, [("A", "B")])
    assert batch["counts"]["applied"] == 1
    b = profile(roster, t, "B")
    assert b["devices"] == []
    assert b["reachable"] is False


def test_markers_and_the_tombstone_that_keeps_only_its_uid(roster: Harness) -> None:
    """FAQ: MOE_USER_MERGED is added to the retained user, MOE_USER_MERGE_EVENT to the merged
    user, who only has the MoEngage id (uid) now."""
    t = roster.tenant()
    load(roster, t, [customer("A", x=1, email="a@x.io"), customer("B"), device("A", "d1")])
    a_uid = profile(roster, t, "A")["uid"]
    b_uid = profile(roster, t, "B")["uid"]
    batch = merge(roster, t, [("A", "B")])
    assert roster.customer(t, "A") is None
    tomb = by_uid(roster, t, a_uid)
    assert tomb["customer_id"] is None
    assert tomb["attributes"] == {}
    assert tomb["identifiers"] == {}
    assert tomb["devices"] == []
    assert tomb["merged_into"] == b_uid
    assert tomb["merged_at"] is not None
    (marker,) = [e for e in uid_events(roster, t, a_uid) if e["name"].startswith("MOE_")]
    assert marker["name"] == "MOE_USER_MERGE_EVENT"
    assert marker["attributes"] == {"retained_uid": b_uid, "retained_customer_id": "B"}
    assert marker["batch_id"] == batch["batch_id"]
    names = [e["name"] for e in roster.events(t, "B")]
    assert names == ["MOE_USER_MERGED"]
    b = profile(roster, t, "B")
    assert b["merged_in"] == [
        {
            "uid": a_uid,
            "customer_id": "A",
            "rule": "moengage",
            "batch_id": batch["batch_id"],
            "at": b["merged_in"][0]["at"],
        }
    ]


def test_the_freed_id_creates_a_new_user_with_a_new_uid(roster: Harness) -> None:
    """FAQ: a creation request with the id of the merged (deleted) user creates a new user
    with a different MoEngage id."""
    t = roster.tenant()
    load(roster, t, [customer("A", x=1), customer("B")])
    a_uid = profile(roster, t, "A")["uid"]
    merge(roster, t, [("A", "B")])
    load(roster, t, [customer("A", y=2)])
    again = profile(roster, t, "A")
    assert again["uid"] != a_uid
    assert again["attributes"] == {"y": 2}
    assert profile(roster, t, "B")["attributes"] == {"x": 1}
    kinds = [e["type"] for e in roster.get("/v1/customers/A/timeline", t).json()["timeline"]]
    assert kinds == ["earlier_customer_merged", "created"]


def test_events_of_the_last_30_days_move_older_ones_stay(roster: Harness) -> None:
    """FAQ: all events of the last 30 days are moved from the merged user to the retained one."""
    t = roster.tenant()
    now = now_ms()
    load(
        roster,
        t,
        [
            customer("A"),
            customer("B"),
            event("A", "recent", now - 2 * DAY_MS),
            event("A", "old", now - 31 * DAY_MS),
            event("B", "own", now - DAY_MS),
        ],
    )
    a_uid = profile(roster, t, "A")["uid"]
    merge(roster, t, [("A", "B")])
    on_b = {e["name"]: e for e in roster.events(t, "B")}
    assert set(on_b) == {"recent", "own", "MOE_USER_MERGED"}
    assert on_b["recent"]["first_recorded_for_uid"] == a_uid
    assert on_b["recent"]["can_trigger"] is True  # MoEngage's merge keeps the verdict
    assert sorted(e["name"] for e in uid_events(roster, t, a_uid)) == [
        "MOE_USER_MERGE_EVENT",
        "old",
    ]


def test_merges_are_not_transitive(roster: Harness) -> None:
    """A→B, then B→C: A's events stay on B; B's own events move to C."""
    t = roster.tenant()
    now = now_ms()
    load(
        roster,
        t,
        [
            customer("A"),
            customer("B"),
            customer("C"),
            event("A", "a1", now - DAY_MS),
            event("A", "a2", now - 2 * DAY_MS),
            event("B", "b1", now - DAY_MS),
            event("C", "c1", now - DAY_MS),
        ],
    )
    uids = {c: profile(roster, t, c)["uid"] for c in "ABC"}
    merge(roster, t, [("A", "B")])
    merge(roster, t, [("B", "C")])
    on_b = sorted(e["name"] for e in uid_events(roster, t, uids["B"]))
    assert on_b == ["MOE_USER_MERGE_EVENT", "a1", "a2"]
    on_c = sorted(e["name"] for e in roster.events(t, "C"))
    assert on_c == ["MOE_USER_MERGED", "MOE_USER_MERGED", "b1", "c1"]
    assert by_uid(roster, t, uids["B"])["merged_into"] == uids["C"]


def test_non_transitivity_holds_within_one_request(roster: Harness) -> None:
    t = roster.tenant()
    now = now_ms()
    load(
        roster,
        t,
        [customer("A"), customer("B"), customer("C"), event("A", "a1", now - DAY_MS)],
    )
    uids = {c: profile(roster, t, c)["uid"] for c in "ABC"}
    batch = merge(roster, t, [("A", "B"), ("B", "C")])
    assert batch["counts"]["applied"] == 2
    assert "a1" in [e["name"] for e in uid_events(roster, t, uids["B"])]
    assert "a1" not in [e["name"] for e in roster.events(t, "C")]


def test_fifty_pairs_with_five_bad_ones(roster: Harness) -> None:
    """45 merged; the 5 bad ones reported by index with their reason; nothing else touched."""
    t = roster.tenant()
    elements = []
    for n in range(45):
        elements += [customer(f"m{n}", n=n), customer(f"r{n}", keep=n)]
    elements += [customer("x1"), customer("x2"), customer("solo", v=1)]
    load(roster, t, elements)
    pairs = [(f"m{n}", f"r{n}") for n in range(45)]
    bad = [
        (3, ("ghost", "r0"), "unknown_customer"),
        (10, ("solo", "solo"), "same_customer"),
        (20, ("m0", "x1"), "already_merged"),  # m0 is merged by pair 0
        (30, ("x2", "m1"), "already_merged"),  # m1 is merged by pair 1
        (49, ("x1", "nobody"), "unknown_customer"),
    ]
    for index, pair, _ in bad:
        pairs.insert(index, pair)
    assert len(pairs) == 50
    batch = merge(roster, t, pairs)
    assert batch["counts"] == {"total": 50, "applied": 45, "skipped": 4, "failed": 1}
    reported = sorted((i["index"], i["code"]) for i in batch["errors"] + batch["warnings"])
    assert reported == [(index, code) for index, _, code in bad]
    for n in range(45):
        assert roster.customer(t, f"m{n}") is None
        assert profile(roster, t, f"r{n}")["attributes"] == {"n": n, "keep": n}
    for untouched, attributes in (("x1", {}), ("x2", {}), ("solo", {"v": 1})):
        p = profile(roster, t, untouched)
        assert p["attributes"] == attributes
        assert p["merged_in"] == []


def test_a_merge_already_done_is_reported_with_where_it_went(roster: Harness) -> None:
    t = roster.tenant()
    load(roster, t, [customer("A"), customer("B")])
    first = merge(roster, t, [("A", "B")])
    batch = merge(roster, t, [("A", "B")])
    (warning,) = batch["warnings"]
    assert warning["code"] == "already_merged"
    assert warning["field"] == "merge_data[0].merged_user"
    assert "'B'" in warning["message"]
    assert first["batch_id"] in warning["message"]


def test_a_merged_user_with_a_wallet_is_not_merged(roster: Harness) -> None:
    t = roster.tenant()
    roster.migrate(
        t,
        "/customers/migrate",
        {"customers": [{"id": "W", "balance": [{"reward_id": "pts", "amount": 10}]}]},
    )
    load(roster, t, [customer("B")])
    batch = merge(roster, t, [("W", "B")])
    (error,) = batch["errors"]
    assert error["code"] == "has_wallet"
    assert profile(roster, t, "W")["merged_into"] is None


def test_the_journal_and_timeline_explain_the_merge(roster: Harness) -> None:
    t = roster.tenant()
    now = now_ms()
    load(
        roster,
        t,
        [
            customer("A", city="Lima", only_a=1),
            customer("B", city="Quito", only_b=2),
            device("A", "d1"),
            event("A", "e1", now - DAY_MS),
        ],
    )
    a_uid = profile(roster, t, "A")["uid"]
    batch = merge(roster, t, [("A", "B")])
    timeline = roster.get("/v1/customers/B/timeline", t).json()["timeline"]
    (entry,) = [e for e in timeline if e["type"] == "merged_in"]
    assert entry["batch_id"] == batch["batch_id"]
    assert entry["merged_uid"] == a_uid
    assert entry["merged_customer_id"] == "A"
    assert entry["rule"] == "moengage"
    assert entry["attributes"] == [
        {
            "name": "city",
            "outcome": "replaced",
            "merged_value": "Lima",
            "before": "Quito",
            "after": "Lima",
        },
        {"name": "only_a", "outcome": "moved", "merged_value": 1, "after": 1},
    ]
    assert entry["devices"] == ["d1"]
    (moved,) = entry["events"]
    assert [e["event_id"] for e in roster.events(t, "B") if e["name"] == "e1"] == [moved]
    assert entry["reachable_before"] is False
    assert entry["reachable_after"] is True
    tomb = roster.get(f"/v1/uids/{a_uid}/timeline", t).json()["timeline"]
    assert [e["type"] for e in tomb][-1] == "merged_into"
    assert tomb[-1]["retained_customer_id"] == "B"


def test_identity_resolution_refuses_merge_users_with_409(roster: Harness) -> None:
    t = roster.tenant(identity_resolution=True)
    response = merge_request(roster, t, [("A", "B")])
    assert response.status_code == 409, response.text
    assert roster.stored_batches() == 0


def test_the_door_checks_the_body_as_the_vendor_does(roster: Harness) -> None:
    t = roster.tenant()
    cases: list[tuple[Any, int, str]] = [
        ({"merge_data": []}, 400, "merge_data"),
        ({"merge_data": "x"}, 400, "merge_data"),
        ({}, 400, "merge_data"),
        (
            {"merge_data": [{"merged_user": 1, "retained_user": "B"}]},
            400,
            "merge_data[0].merged_user",
        ),
        ({"merge_data": [{"merged_user": "A"}]}, 400, "merge_data[0].retained_user"),
        ({"merge_data": [{"merged_user": "A", "retained_user": "B"}] * 51}, 400, "merge_data"),
    ]
    for body, status, field in cases:
        response = roster.request(
            "POST",
            f"/v1/customer/merge?app_id={t.id}",
            content=json.dumps(body).encode(),
            headers=t.json_auth,
        )
        assert response.status_code == status, (body, response.text)
        assert field in response.text, response.text
    big = {"merge_data": [{"merged_user": "A" * 200, "retained_user": "B" * 200}] * 50}
    padded = json.dumps(big).encode() + b" " * 120_000
    response = roster.request(
        "POST", f"/v1/customer/merge?app_id={t.id}", content=padded, headers=t.json_auth
    )
    assert response.status_code == 413
    missing = roster.request("POST", "/v1/customer/merge", content=b"{}", headers=t.json_auth)
    assert missing.status_code == 400
    assert "app_id is required" in missing.text
    other = roster.tenant("other")
    response = merge_request(roster, t, [("A", "B")], app_id=other.id)
    assert response.status_code == 403
    assert roster.stored_batches() == 0


def test_merges_are_charged_to_their_own_per_minute_budget(roster: Harness) -> None:
    t = roster.tenant(merges_per_minute=3)
    load(roster, t, [customer(c) for c in "ABCDEF"])
    assert merge_request(roster, t, [("A", "B"), ("C", "D")]).status_code == 200
    over = merge_request(roster, t, [("E", "F"), ("B", "D")])
    assert over.status_code == 429
    assert over.headers["X-RateLimit-Limit"] == "3"
    assert merge_request(roster, t, [("E", "F")]).status_code == 200


def cio_merge(roster: Harness, t: Tenant, body: Any) -> dict[str, Any]:
    response = roster.cio(t, "/api/v1/merge_customers", body)
    assert response.status_code == 200, response.text
    roster.drain()
    return roster.batch(t, response.json()["batch_id"])


def test_customerio_primary_keeps_its_values_and_gains_what_it_lacks(roster: Harness) -> None:
    t = roster.tenant()
    now = now_ms()
    load(
        roster,
        t,
        [
            customer("P", city="Lima", plan="", email="p@x.io"),
            customer("S", city="Quito", plan="gold", extra=1),
            event("S", "recent", now - DAY_MS),
            event("S", "old", now - 40 * DAY_MS),
        ],
    )
    s_uid = profile(roster, t, "S")["uid"]
    batch = cio_merge(roster, t, {"primary": {"email": "P@x.io"}, "secondary": {"id": "S"}})
    assert batch["kind"] == "customerio.merge"
    assert batch["counts"] == {"total": 1, "applied": 1, "skipped": 0, "failed": 0}
    p = profile(roster, t, "P")
    assert p["attributes"] == {"city": "Lima", "plan": "gold", "email": "p@x.io", "extra": 1}
    (moved,) = roster.events(t, "P")
    assert moved["name"] == "recent"
    assert moved["can_trigger"] is False
    assert [e["name"] for e in uid_events(roster, t, s_uid)] == ["old"]
    assert roster.customer(t, "S") is None


def test_customerio_merge_with_an_unknown_primary_does_nothing(roster: Harness) -> None:
    t = roster.tenant()
    load(roster, t, [customer("S", x=1)])
    batch = cio_merge(roster, t, {"primary": {"id": "nobody"}, "secondary": {"id": "S"}})
    assert batch["counts"] == {"total": 1, "applied": 0, "skipped": 1, "failed": 0}
    assert batch["warnings"][0]["field"] == "primary.id"
    assert profile(roster, t, "S")["attributes"] == {"x": 1}


def test_customerio_merge_door_rules(roster: Harness) -> None:
    t = roster.tenant()
    for body, field in [
        ({"primary": {"id": "a", "email": "a@x"}, "secondary": {"id": "b"}}, "primary"),
        ({"primary": {"id": "a"}}, "secondary"),
        ({"primary": {"cio_id": "x"}, "secondary": {"id": "b"}}, "primary.cio_id"),
        ({"primary": {"id": ["a"]}, "secondary": {"id": "b"}}, "primary.id"),
    ]:
        response = roster.cio(t, "/api/v1/merge_customers", body)
        assert response.status_code == 400, response.text
        assert field in response.text
    assert roster.stored_batches() == 0


def test_a_migrated_customer_holding_a_merge_is_not_reverted(roster: Harness) -> None:
    """Reverting a retained customer would delete what was merged into it: refused with
    ``has_merges``; a plain revert is in the timeline of the customer later given its id."""
    t = roster.tenant()
    roster.migrate(t, "/customers/migrate", {"customers": [{"id": "M1"}, {"id": "M2"}]})
    load(roster, t, [customer("X", x=1)])
    merge(roster, t, [("X", "M1")])
    batch_id = roster.migrate(t, "/customers/migrate", {"customers": ["M1", "M2"]}, method="DELETE")
    batch = roster.batch(t, batch_id)
    assert batch["counts"] == {"total": 2, "applied": 1, "skipped": 1, "failed": 0}
    assert batch["warnings"][0]["code"] == "has_merges"
    assert profile(roster, t, "M1")["attributes"] == {"x": 1}
    roster.migrate(t, "/customers/migrate", {"customers": [{"id": "M2"}]})
    timeline = roster.get("/v1/customers/M2/timeline", t).json()["timeline"]
    assert [e["type"] for e in timeline] == ["earlier_customer_reverted", "created", "migrated"]
    assert timeline[0]["batch_id"] == batch_id


def test_identity_resolution_merges_profiles_an_import_finds_sharing_an_identifier(
    roster: Harness,
) -> None:
    """An event creates a profile known only by its email; a customer element then gives
    customer `c1` that email: c1 is merged into the older profile, which takes its id, its
    newer attribute values and all its events."""
    t = roster.tenant(identity_resolution=True, identifiers=["email"])
    now = now_ms()
    anon_event = {
        "type": "event",
        "user_identifiers": {"email": "e@x.io"},
        "actions": [{"action": "first", "current_time": now - 60 * DAY_MS}],
    }
    load(roster, t, [anon_event])
    anon = roster.get("/v1/customers?email=e@x.io", t).json()
    assert anon["customer_id"] is None
    response = roster.transition(
        t,
        [
            customer("c1", email="E@x.io", plan="gold"),
            event("c1", "later", now - 40 * DAY_MS),
        ],
    )
    roster.drain()
    batch = roster.batch(t, response.json()["batch_id"])
    assert batch["counts"] == {"total": 2, "applied": 2, "skipped": 0, "failed": 0}
    assert [w["code"] for w in batch["warnings"]] == ["identity_merged"]
    c1 = profile(roster, t, "c1")
    assert c1["uid"] == anon["uid"]
    assert c1["attributes"] == {"email": "E@x.io", "plan": "gold"}
    names = sorted(e["name"] for e in roster.events(t, "c1"))
    assert names == ["MOE_USER_MERGED", "first", "later"]  # all events: one person
    (entry,) = [
        e
        for e in roster.get("/v1/customers/c1/timeline", t).json()["timeline"]
        if e["type"] == "merged_in"
    ]
    assert entry["rule"] == "identity"
    assert entry["customer_id_taken"] is True
    assert entry["batch_id"] == batch["batch_id"]
    tomb = by_uid(roster, t, entry["merged_uid"])
    assert tomb["merged_into"] == anon["uid"]
    assert [e["name"] for e in uid_events(roster, t, entry["merged_uid"])] == [
        "MOE_USER_MERGE_EVENT"
    ]


def test_identity_merge_keeps_the_newest_value_of_each_attribute(roster: Harness) -> None:
    """Customer.io calls in an identity-resolution workspace: the newer profile's older
    values lose to the retained profile's newer ones, and the other way round."""
    t = roster.tenant(identity_resolution=True, identifiers=["email"])
    roster.cio_batch(
        t,
        "/v1/identify",
        {"userId": "a", "traits": {"email": "s@x.io", "city": "Lima"}, "timestamp": 1_700_000_000},
    )
    roster.cio_batch(
        t,
        "/v1/identify",
        {"userId": "b", "traits": {"city": "Quito", "plan": "x"}, "timestamp": 1_600_000_000},
    )
    roster.cio_batch(
        t,
        "/v1/identify",
        {
            "userId": "b",
            "traits": {"email": "s@x.io", "plan": "y"},
            "timestamp": 1_650_000_000,
        },
    )
    a = profile(roster, t, "a")
    assert roster.customer(t, "b") is None
    assert a["attributes"] == {"email": "s@x.io", "city": "Lima", "plan": "y"}


def test_a_merge_applies_between_the_imports_accepted_before_and_after_it(
    roster: Harness,
) -> None:
    """Import, merge, import again, all queued before any is applied: the merge sees the first
    import whole and none of the second (the per-workspace order)."""
    t = roster.tenant()
    first = roster.transition(t, [customer("A", v=1), customer("B", w=1)])
    merged = merge_request(roster, t, [("A", "B")])
    second = roster.transition(t, [customer("A", v=2), customer("B", w=2)])
    assert {r.status_code for r in (first, merged, second)} == {200}
    roster.drain()
    assert profile(roster, t, "B")["attributes"] == {"v": 1, "w": 2}
    assert profile(roster, t, "A")["attributes"] == {"v": 2}
    assert profile(roster, t, "A")["uid"] not in {
        m["uid"] for m in profile(roster, t, "B")["merged_in"]
    }
