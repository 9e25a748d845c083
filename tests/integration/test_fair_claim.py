"""The fair claim across workspaces (``domain.turns``), on both stores: a workspace sending a
little is served by the next free worker however much another has queued, heavy workspaces
take turns, and one coming back from idle earns no credit. The order within each workspace
stays the acceptance order."""

from __future__ import annotations

import time

import sqlalchemy as sa

from roster.domain.turns import HORIZON_MS
from roster.services.worker.loop import Worker
from roster.store.schema import workspace_turns
from roster_testkit import Harness, Tenant


def _events(tenant_tag: str, n: int) -> list[dict[str, object]]:
    return [
        {"type": "event", "customer_id": f"{tenant_tag}-{i}", "actions": [{"action": "a"}]}
        for i in range(n)
    ]


def _post(roster: Harness, tenant: Tenant, batches: int, elements: int) -> list[str]:
    return [
        roster.transition(tenant, _events(tenant.id[:6], elements)).json()["batch_id"]
        for _ in range(batches)
    ]


def _one_at_a_time(roster: Harness) -> Worker:
    """A worker that claims one batch per turn (no groups), so every claim is visible."""
    settings = roster.container.settings.model_copy(update={"group_max_batches": 1})
    return Worker(roster.db, settings, name="fair-worker")


def _claims(worker: Worker, n: int) -> list[str]:
    """Claim and apply ``n`` times; the ids claimed, in order."""
    order = []
    for _ in range(n):
        group = worker._claim()
        assert group, "the queue ran dry"
        order += [b.id for b in group]
        worker._apply(group)
    return order


def test_a_workspace_sending_a_little_is_served_before_another_s_backlog(
    roster: Harness,
) -> None:
    """Workspace A queues ten batches, then B one: B's batch is the next claimed after A's
    first, not the eleventh; A's batches still apply in acceptance order."""
    a, b = roster.tenant("flood"), roster.tenant("light")
    flood = _post(roster, a, 10, 20)
    worker = _one_at_a_time(roster)
    first = _claims(worker, 1)
    light = _post(roster, b, 1, 2)
    rest = _claims(worker, 10)
    assert first + rest == [flood[0], light[0], *flood[1:]]
    assert roster.worker.run_once() is False


def test_heavy_workspaces_take_turns(roster: Harness) -> None:
    """Two workspaces with backlogs alternate, whichever was accepted first."""
    a, c = roster.tenant("a"), roster.tenant("c")
    from_a = _post(roster, a, 3, 50)
    from_c = _post(roster, c, 3, 50)
    order = _claims(_one_at_a_time(roster), 6)
    assert order == [from_a[0], from_c[0], from_a[1], from_c[1], from_a[2], from_c[2]]


def test_a_workspace_back_from_idle_earns_no_credit(roster: Harness) -> None:
    """A workspace last served an hour ago is served once first, then takes turns with one that
    was busy a moment ago, instead of running through its whole backlog (it would, if its turn
    kept counting from an hour ago)."""
    idle, busy = roster.tenant("idle"), roster.tenant("busy")
    now = int(time.time() * 1000)
    with roster.db.write() as conn:
        conn.execute(
            sa.insert(workspace_turns),
            [
                {"workspace_id": idle.id, "turn": now - 3_600_000},
                {"workspace_id": busy.id, "turn": now},
            ],
        )
    from_busy = _post(roster, busy, 2, 50)
    from_idle = _post(roster, idle, 3, 50)
    order = _claims(_one_at_a_time(roster), 5)
    assert order == [from_idle[0], from_busy[0], from_idle[1], from_busy[1], from_idle[2]]


def test_a_claim_moves_the_workspace_turn_at_most_the_horizon_ahead(roster: Harness) -> None:
    tenant = roster.tenant()
    _post(roster, tenant, 1, 3)
    before = int(time.time() * 1000)
    assert roster.worker.run_once()
    with roster.db.read() as conn:
        turn = conn.execute(
            sa.select(workspace_turns.c.turn).where(workspace_turns.c.workspace_id == tenant.id)
        ).scalar_one()
    assert before < turn <= int(time.time() * 1000) + HORIZON_MS
