"""Property: for random profiles and random merge sequences (MoEngage and Customer.io rules,
chains, repeats, bad pairs), nothing is lost or duplicated, the result is what the rules say,
and the journal accounts for every move. On both stores."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_merges import DAY_MS, customer, device, event, now_ms

from roster.store.schema import customers, devices, events, journal
from roster_testkit import Harness, Tenant

NAMES = ("a", "b", "c")
VALUES = st.one_of(st.integers(0, 3), st.just(""), st.none())
PROFILE = st.fixed_dictionaries(
    {
        "attributes": st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=3),
        "devices": st.integers(0, 2),
        "event_ages": st.lists(st.sampled_from([1, 10, 20, 45, 60]), max_size=3),
    }
)
REQUESTS = st.lists(
    st.tuples(
        st.sampled_from(["moengage", "customerio"]),
        st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=3),
    ),
    min_size=1,
    max_size=4,
)
MARKERS = {"MOE_USER_MERGED", "MOE_USER_MERGE_EVENT"}


class Model:
    """What the rules say, computed apart from Roster: per uid its attributes, devices and
    events (event id -> (origin uid, occurred_at))."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.attributes: dict[int, dict[str, Any]] = snapshot["attributes"]
        self.devices: dict[int, set[str]] = snapshot["devices"]
        self.events: dict[int, dict[int, tuple[int, int]]] = snapshot["events"]
        self.live: dict[str, int] = dict(snapshot["live"])
        self.moves: list[dict[str, Any]] = []

    def merge(self, rule: str, merged_id: str, retained_id: str, cutoff: int) -> None:
        m, r = self.live.get(merged_id), self.live.get(retained_id)
        if m is None or r is None or m == r:
            return
        attrs, mine = self.attributes[r], self.attributes[m]
        for name, value in mine.items():
            if rule == "moengage" or name not in attrs or attrs[name] in (None, ""):
                attrs[name] = value
        self.attributes[m] = {}
        moved_devices = self.devices.pop(m, set())
        self.devices.setdefault(r, set()).update(moved_devices)
        moving = {i: e for i, e in self.events.get(m, {}).items() if e[0] == m and e[1] >= cutoff}
        for i in moving:
            del self.events[m][i]
        self.events.setdefault(r, {}).update(moving)
        del self.live[merged_id]
        self.moves.append(
            {"uid": m, "into": r, "devices": sorted(moved_devices), "events": sorted(moving)}
        )


def snapshot(roster: Harness, t: Tenant) -> dict[str, Any]:
    with roster.db.read() as conn:
        rows = conn.execute(
            sa.select(customers.c.uid, customers.c.customer_id, customers.c.attributes).where(
                customers.c.workspace_id == t.id
            )
        ).all()
        uids = [r.uid for r in rows]
        device_rows = conn.execute(
            sa.select(devices.c.uid, devices.c.device_id).where(devices.c.workspace_id == t.id)
        ).all()
        event_rows = conn.execute(
            sa.select(
                events.c.id,
                events.c.uid,
                events.c.origin_uid,
                events.c.occurred_at,
                events.c.name,
                events.c.can_trigger,
            ).where(events.c.workspace_id == t.id)
        ).all()
        journal_rows = conn.execute(
            sa.select(journal).where(journal.c.workspace_id == t.id).order_by(journal.c.id)
        ).all()
    snap: dict[str, Any] = {
        "attributes": {r.uid: json.loads(r.attributes) for r in rows},
        "live": {r.customer_id: r.uid for r in rows if r.customer_id is not None},
        "devices": {},
        "events": {},
        "markers": [],
        "marker_ids": set(),
        "untriggerable": set(),
        "journal": [dict(j._mapping) | {"detail": json.loads(j.detail)} for j in journal_rows],
        "uids": set(uids),
    }
    for uid, did in device_rows:
        snap["devices"].setdefault(uid, set()).add(did)
    for eid, uid, origin, at, name, trigger in event_rows:
        if not trigger:
            snap["untriggerable"].add(eid)
        if name in MARKERS:
            snap["markers"].append((name, uid))
            snap["marker_ids"].add(eid)
            continue
        snap["events"].setdefault(uid, {})[eid] = (origin, at)
    return snap


def post_merge(roster: Harness, t: Tenant, rule: str, pairs: list[tuple[str, str]]) -> None:
    if rule == "moengage":
        body = {"merge_data": [{"merged_user": m, "retained_user": r} for m, r in pairs]}
        response = roster.request(
            "POST",
            f"/v1/customer/merge?app_id={t.id}",
            content=json.dumps(body).encode(),
            headers=t.json_auth,
        )
    else:
        (m, r), *_ = pairs
        body = {"primary": {"id": r}, "secondary": {"id": m}}
        response = roster.cio(t, "/api/v1/merge_customers", body)
    assert response.status_code == 200, response.text


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(profiles=st.lists(PROFILE, min_size=2, max_size=6), requests=REQUESTS)
def test_merges_lose_nothing_and_the_journal_accounts_for_every_move(
    roster: Harness, profiles: list[dict[str, Any]], requests: list[Any]
) -> None:
    t = roster.tenant()
    now = now_ms()
    elements: list[dict[str, Any]] = []
    for n, p in enumerate(profiles):
        elements.append(customer(f"c{n}", **p["attributes"]))
        elements += [device(f"c{n}", f"d{n}.{k}") for k in range(p["devices"])]
        elements += [
            event(f"c{n}", f"e{n}.{k}", now - age * DAY_MS) for k, age in enumerate(p["event_ages"])
        ]
    response = roster.transition(t, elements)
    assert response.status_code == 200
    roster.drain()
    before = snapshot(roster, t)
    model = Model(snapshot(roster, t))
    applied = 0
    for rule, pairs in requests:
        named = [(f"c{i % len(profiles)}", f"c{j % len(profiles)}") for i, j in pairs]
        if rule == "customerio":
            named = named[:1]
        post_merge(roster, t, rule, named)
        roster.drain()
        cutoff = now_ms() - 30 * DAY_MS
        for m, r in named:
            count = len(model.moves)
            model.merge(rule, m, r, cutoff)
            applied += len(model.moves) - count
    after = snapshot(roster, t)

    # Nothing lost or duplicated: every event and device of before is held by exactly one
    # stored customer (live or tombstone), and no customer was deleted.
    assert after["uids"] == before["uids"]
    held = [i for evs in after["events"].values() for i in evs]
    assert sorted(held) == sorted(i for evs in before["events"].values() for i in evs)
    devices_after = [d for ds in after["devices"].values() for d in ds]
    assert sorted(devices_after) == sorted(d for ds in before["devices"].values() for d in ds)
    # The result is what the rules say.
    assert after["live"] == model.live
    assert after["attributes"] == model.attributes
    assert {u: d for u, d in after["devices"].items() if d} == {
        u: d for u, d in model.devices.items() if d
    }
    assert {u: e for u, e in after["events"].items() if e} == {
        u: e for u, e in model.events.items() if e
    }
    # The journal accounts for every move, in order.
    merges = [j for j in after["journal"] if j["action"] == "merge"]
    assert len(merges) == applied
    for entry, move in zip(merges, model.moves, strict=True):
        assert (entry["uid"], entry["into_uid"]) == (move["uid"], move["into"])
        assert entry["detail"]["devices"] == move["devices"]
        # (the markers a retained profile got are its own events: a later merge moves them)
        moved = [i for i in entry["detail"]["events"] if i not in after["marker_ids"]]
        assert moved == move["events"]
    # Every attribute the merged profile held when it was merged is in its journal entry.
    replay = {u: dict(a) for u, a in before["attributes"].items()}
    for entry in merges:
        held_then = replay[entry["uid"]]
        journaled = {a["name"]: a["merged_value"] for a in entry["detail"]["attributes"]}
        assert journaled == held_then
        for a in entry["detail"]["attributes"]:
            replay[entry["into_uid"]][a["name"]] = a["after"]
        replay[entry["uid"]] = {}
    assert replay == after["attributes"]
    # Customer.io moves cannot trigger; MoEngage merges leave two markers each.
    for entry in merges:
        if entry["rule"] == "customerio":
            assert set(entry["detail"]["events"]) <= after["untriggerable"]
    # (A marker is an event like any other: a later merge may move a retained profile's own.)
    names = sorted(name for name, _ in after["markers"])
    moengage = sum(e["rule"] == "moengage" for e in merges)
    assert names == ["MOE_USER_MERGED"] * moengage + ["MOE_USER_MERGE_EVENT"] * moengage
