"""The fair claim across workspaces (``domain.fairness``), on both stores: a workspace sending a
little is served by the next free worker however much another has queued, heavy workspaces
take turns, and one coming back from idle earns no credit. The order within each workspace
stays the acceptance order."""

from __future__ import annotations

import time

import sqlalchemy as sa

from roster.domain.fairness import HORIZON_MS
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


def test_a_worker_applying_one_workspace_s_groups_in_a_row_lets_an_earlier_turn_go_first(
    roster: Harness,
) -> None:
    """On PostgreSQL a worker goes on with the groups queued behind the one it holds (the
    pipeline, ``ROSTER_PIPELINE_GROUPS``); it stops as soon as another workspace whose turn
    comes first has a batch ready. On both stores: one turn of the worker applies one group
    of the flood, and the next turn the light workspace's batch."""
    flood, light = roster.tenant("flood"), roster.tenant("light")
    flooded = _post(roster, flood, 6, 20)
    waiting = _post(roster, light, 1, 2)
    settings = roster.container.settings.model_copy(
        update={"group_max_batches": 1, "pipeline_groups": 8}
    )
    worker = Worker(roster.db, settings, name="piping-worker")
    assert worker.run_once()
    assert [roster.batch(flood, b)["status"] for b in flooded[:2]] == ["done", "queued"]
    assert roster.batch(light, waiting[0])["status"] == "queued"
    assert worker.run_once()
    assert roster.batch(light, waiting[0])["status"] == "done"
    assert roster.batch(flood, flooded[1])["status"] == "queued"


def test_a_worker_alone_with_one_workspace_applies_its_groups_in_a_row(roster: Harness) -> None:
    """Nobody else waiting: on PostgreSQL one turn of the worker applies up to
    ``pipeline_groups`` groups (one at a time on SQLite), every batch done in order."""
    tenant = roster.tenant()
    posted = _post(roster, tenant, 6, 20)
    settings = roster.container.settings.model_copy(
        update={"group_max_batches": 1, "pipeline_groups": 4}
    )
    assert Worker(roster.db, settings, name="piping-worker").run_once()
    done = [roster.batch(tenant, b)["status"] == "done" for b in posted]
    expected = 4 if roster.db.dialect == "postgresql" else 1
    assert done == [True] * expected + [False] * (6 - expected)
