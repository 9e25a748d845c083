"""A property of the fair claim (issue 18): however the workers' claims and applies interleave
and whatever the workspaces' turns, each workspace ends as if its batches had been applied one
by one in acceptance order, and every batch's ledger is that of such an apply (its counts, and
the customers it created)."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roster.domain.batches import Claimed
from roster.services.worker.loop import Worker
from roster.store.schema import workspace_turns
from roster_testkit import Harness

WORKSPACES = 3
CUSTOMERS = ("c1", "c2", "c3")

batch_strategy = st.tuples(
    st.integers(0, WORKSPACES - 1),
    st.lists(st.tuples(st.sampled_from(CUSTOMERS), st.integers(0, 3)), min_size=1, max_size=4),
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    posted=st.lists(batch_strategy, min_size=1, max_size=14),
    turns=st.lists(st.integers(-3_600_000, 60_000), min_size=WORKSPACES, max_size=WORKSPACES),
    group=st.integers(1, 4),
    steps=st.data(),
)
def test_interleaved_claims_end_as_acceptance_order(
    roster: Harness,
    posted: list[tuple[int, list[tuple[str, int]]]],
    turns: list[int],
    group: int,
    steps: st.DataObject,
) -> None:
    roster.drain()  # whatever an earlier example left queued
    tenants = [roster.tenant(f"ws{n}") for n in range(WORKSPACES)]
    now = int(time.time() * 1000)
    with roster.db.write() as conn:
        conn.execute(
            sa.insert(workspace_turns),
            [{"workspace_id": t.id, "turn": now + d} for t, d in zip(tenants, turns, strict=True)],
        )
    accepted: dict[str, list[str]] = {t.id: [] for t in tenants}
    expected: dict[str, dict[str, int]] = {t.id: {} for t in tenants}
    for ws, sets in posted:
        elements = [
            {"type": "customer", "customer_id": cid, "attributes": {"v": value}}
            for cid, value in sets
        ]
        tenant = tenants[ws]
        accepted[tenant.id].append(roster.transition(tenant, elements).json()["batch_id"])
        expected[tenant.id].update(dict(sets))

    settings_ = roster.container.settings.model_copy(update={"group_max_batches": group})
    workers = [Worker(roster.db, settings_, name=f"w{n}") for n in range(3)]
    in_hand: dict[int, list[Claimed]] = {}
    applied: dict[str, list[str]] = {t.id: [] for t in tenants}

    def apply(n: int) -> None:
        held = in_hand.pop(n)
        workers[n]._apply(held)
        applied[held[0].workspace_id] += [b.id for b in held]

    for _ in range(3 * len(posted)):  # interleaved, bounded; then the rest one at a time
        idle = [n for n in range(len(workers)) if n not in in_hand]
        choices = [("claim", n) for n in idle] + [("apply", n) for n in in_hand]
        action, n = steps.draw(st.sampled_from(choices))
        if action == "apply":
            apply(n)
        elif claimed := workers[n]._claim():
            in_hand[n] = claimed
        elif not in_hand:
            break  # nothing queued, nothing in hand: drained
    for n in list(in_hand):
        apply(n)
    while claimed := workers[0]._claim():
        in_hand[0] = claimed
        apply(0)

    for tenant in tenants:
        assert applied[tenant.id] == accepted[tenant.id]  # one by one, in acceptance order
        for cid in CUSTOMERS:
            profile: dict[str, Any] | None = roster.customer(tenant, cid)
            if cid in expected[tenant.id]:
                assert profile is not None
                assert profile["attributes"] == {"v": expected[tenant.id][cid]}
            else:
                assert profile is None
        seen: set[str] = set()
        mine = [sets for ws, sets in posted if tenants[ws] == tenant]
        for batch_id, sets in zip(accepted[tenant.id], mine, strict=True):
            batch = roster.batch(tenant, batch_id)
            assert batch["status"] == "done"
            created = len({cid for cid, _ in sets} - seen)  # a customer's first batch creates it
            seen |= {cid for cid, _ in sets}
            counts, effects = batch["counts"], batch["effects"]
            assert (counts["applied"], counts["failed"]) == (len(sets), 0)
            assert effects["created"] == created
            assert effects["created"] + effects["updated"] + effects["unchanged"] == len(sets)
