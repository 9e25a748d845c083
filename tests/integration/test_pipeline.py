"""The worker's pipeline (PostgreSQL): groups decided while the group before them is written
leave exactly what applying them one group at a time leaves, batch by batch."""

from __future__ import annotations

import json
import random
from typing import Any

from roster.services.worker.loop import Worker
from roster_testkit import Harness, Tenant

BASE_S = 1_700_000_000


def _elements(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """Customers (timed and untimed), events that create or name them, devices that move
    between them, a few skipped and failed elements: a small pool, so groups overlap."""
    out: list[dict[str, Any]] = []
    for _ in range(n):
        cid = f"c{rng.randrange(12)}"
        roll = rng.random()
        if roll < 0.3:
            attrs: dict[str, Any] = {"plan": f"p{rng.randrange(5)}", "n": rng.randrange(100)}
            if rng.random() < 0.5:
                attrs["_timestamp"] = BASE_S + rng.randrange(50)
            if rng.random() < 0.2:
                attrs["moe_anonymous_id"] = f"a{rng.randrange(4)}"
            el: dict[str, Any] = {"type": "customer", "customer_id": cid, "attributes": attrs}
            if rng.random() < 0.1:
                el["update_existing_only"] = True
            out.append(el)
        elif roll < 0.45:
            did = f"d{rng.randrange(6)}"
            platform = rng.choice(["ANDROID", "iOS", "{{bad}}"])
            attributes = {
                "platform": platform,
                "push_id": f"t{rng.randrange(3)}",
                "x": rng.randrange(3),
            }
            out.append(
                {"type": "device", "customer_id": cid, "device_id": did, "attributes": attributes}
            )
        else:
            action = {
                "action": f"e{rng.randrange(3)}",
                "current_time": str((BASE_S + rng.randrange(99)) * 1000),
            }
            out.append({"type": "event", "customer_id": cid, "actions": [action]})
    return out


def _drain(roster: Harness, **settings: Any) -> None:
    worker = Worker(roster.db, roster.container.settings.model_copy(update=settings), name="w")
    for _ in range(1000):
        if not worker.run_once():
            return
    raise AssertionError("queue not drained")


def _state(roster: Harness, tenant: Tenant, ids: list[str]) -> dict[str, Any]:
    """The workspace as a value, batch ids and accept times (which differ between the two
    workspaces) replaced by the batch's position."""
    position = {b: n for n, b in enumerate(ids)}
    found = [roster.batch(tenant, b) for b in ids]
    accepted = {b["accepted_at"]: f"<accepted {n}>" for n, b in enumerate(found)}

    def same(value: Any) -> Any:
        text = json.dumps(value)
        for at, name in accepted.items():
            text = text.replace(at, name)
        return json.loads(text)

    batches = [
        same({k: b[k] for k in ("status", "counts", "effects", "errors", "warnings")})
        for b in found
    ]
    customers = {}
    for n in range(12):
        c = roster.customer(tenant, f"c{n}")
        if c is not None:
            c = same(
                {k: c[k] for k in ("attributes", "attribute_times", "devices", "created_batch")}
            )
            c["created_batch"] = position.get(c["created_batch"])
            c["devices"] = sorted(
                (d["device_id"], d["platform"], d["push_id"], d["attributes"].get("x"))
                for d in c["devices"]
            )
            c["events"] = sorted(
                (e["name"], e["occurred_at"], position[e["batch_id"]])
                for e in roster.events(tenant, f"c{n}")
            )
        customers[f"c{n}"] = c
    return {"batches": batches, "customers": customers}


def test_pipelined_groups_equal_one_group_at_a_time(roster: Harness) -> None:
    rng = random.Random(7)
    bodies = [_elements(rng, rng.randrange(1, 9)) for _ in range(40)]
    results = []
    for pipeline in (1, 8):
        tenant = roster.tenant(f"pipeline{pipeline}")
        ids = [roster.transition(tenant, body).json()["batch_id"] for body in bodies]
        _drain(roster, pipeline_groups=pipeline, group_max_batches=3)
        results.append(_state(roster, tenant, ids))
    serial, pipelined = results
    assert pipelined["batches"] == serial["batches"]
    assert pipelined["customers"] == serial["customers"]
    assert any(c is not None for c in serial["customers"].values())
