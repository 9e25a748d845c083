"""The batches table as a queue: per-workspace order, leases, takeover, retries, failure."""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa

from roster.services.admin import workspace_admin
from roster.services.apply.kinds import KINDS, Plan, Planner
from roster.services.worker.loop import Worker
from roster.store import batches
from roster.store.schema import batches as batches_table
from roster.store.schema import customer_identifiers as identifiers_table
from roster.store.schema import events as events_table
from roster_testkit import Harness, Tenant


def _customer(cid: str, **attributes: object) -> dict[str, object]:
    return {"type": "customer", "customer_id": cid, "attributes": attributes}


def _event(cid: str, name: str) -> dict[str, object]:
    return {"type": "event", "customer_id": cid, "actions": [{"action": name}]}


def _claim(roster: Harness, owner: str) -> batches.Claimed | None:
    with roster.db.write() as conn:
        return batches.claim_next(conn, owner, int(time.time() * 1000), 60_000)


def _status(roster: Harness, tenant: Tenant, batch_id: str) -> str:
    return str(roster.batch(tenant, batch_id)["status"])


def test_batches_of_one_workspace_apply_in_acceptance_order(roster: Harness) -> None:
    """Three batches setting the same attribute end with the value of the last one accepted."""
    tenant = roster.tenant()
    for value in (1, 2, 3):
        assert roster.transition(tenant, [_customer("c1", level=value)]).status_code == 200
    roster.drain()
    profile = roster.customer(tenant, "c1")
    assert profile is not None
    assert profile["attributes"]["level"] == 3


def test_a_later_batch_waits_while_an_earlier_one_is_in_hand(roster: Harness) -> None:
    """While a workspace's first batch is processing, its second cannot be claimed; another
    workspace's batch can."""
    a, b = roster.tenant("a"), roster.tenant("b")
    first = roster.transition(a, [_customer("c1", n=1)]).json()["batch_id"]
    roster.transition(a, [_customer("c1", n=2)])
    other = roster.transition(b, [_customer("c1", n=9)]).json()["batch_id"]
    held = _claim(roster, "worker-1")
    assert held is not None
    assert held.id == first
    second_claim = _claim(roster, "worker-2")
    assert second_claim is not None
    assert second_claim.id == other
    assert _claim(roster, "worker-3") is None


def test_an_expired_lease_is_taken_over_and_applied_exactly_once(roster: Harness) -> None:
    """A batch whose worker stopped renewing its lease is applied by another worker, once; the
    first worker, coming back, applies nothing."""
    tenant = roster.tenant()
    batch_id = roster.transition(tenant, [_event("c1", "opened")]).json()["batch_id"]
    stalled = _claim(roster, "stalled-worker")
    assert stalled is not None
    with roster.db.write() as conn:  # time travel: the lease ran out a second ago
        conn.execute(
            sa.update(batches_table)
            .where(batches_table.c.id == batch_id)
            .values(lease_expires_at=int(time.time() * 1000) - 1000)
        )
    roster.drain()
    batch = roster.batch(tenant, batch_id)
    assert batch["status"] == "done"
    assert batch["attempts"] == 2
    late = Worker(roster.db, roster.container.settings, name="stalled-worker")
    late._apply([stalled])  # the stalled worker wakes up and tries to finish its batch
    assert len(roster.events(tenant, "c1")) == 1


def _replan(monkeypatch: pytest.MonkeyPatch, plan: Planner) -> None:
    """Transition batches are decided by ``plan`` for the rest of the test."""
    monkeypatch.setitem(KINDS, "transition", replace(KINDS["transition"], plan=plan))


def test_a_lease_lost_while_the_group_is_decided_writes_nothing(
    roster: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group is decided outside the write transaction. If its lease runs out meanwhile and
    another worker applies the batch, the first worker's decision is dropped, not written."""
    tenant = roster.tenant()
    batch_id = roster.transition(tenant, [_event("c1", "opened")]).json()["batch_id"]
    decide = KINDS["transition"].plan
    assert decide is not None

    def decide_then_stall(*args: Any) -> Plan:
        plan = decide(*args)
        with roster.db.write() as conn:  # the lease runs out while this worker is stalled
            conn.execute(
                sa.update(batches_table)
                .where(batches_table.c.id == batch_id)
                .values(lease_expires_at=int(time.time() * 1000) - 1000)
            )
        _replan(monkeypatch, decide)
        assert Worker(roster.db, roster.container.settings, name="rescuer").run_once()
        return plan

    _replan(monkeypatch, decide_then_stall)
    silent = roster.container.settings.model_copy(update={"heartbeat_seconds": 3600})
    stalled = Worker(roster.db, silent, name="stalled-worker")  # no renewal while it stalls
    assert stalled.run_once()
    batch = roster.batch(tenant, batch_id)
    assert (batch["status"], batch["attempts"], batch["counts"]["applied"]) == ("done", 2, 1)
    assert [e["name"] for e in roster.events(tenant, "c1")] == ["opened"]


def test_settings_changed_while_a_group_is_decided_are_the_ones_it_is_written_with(
    roster: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New identifiers set while a worker decides a group (they rebuild the whole identifier
    index) win: the group is decided again, and the index holds every customer's identifiers
    under the new list, the group's own customers included."""
    tenant = roster.tenant(identity_resolution=True, identifiers=["email"])
    first = [_customer("c1", email="a@example.com", phone="+1")]
    roster.transition(tenant, first)
    roster.drain()
    decide = KINDS["transition"].plan
    assert decide is not None

    decided: list[tuple[str, ...]] = []

    def decide_then_reconfigure(*args: Any) -> Plan:
        plan = decide(*args)
        decided.append(args[1].identifiers)
        if len(decided) == 1:  # the first decision is outdated as soon as it is made
            workspace_admin.configure(roster.db, tenant.id, identifiers=["email", "phone"])
        return plan

    _replan(monkeypatch, decide_then_reconfigure)
    second = [_customer("c2", email="b@example.com", phone="+2")]
    batch_id = roster.transition(tenant, second).json()["batch_id"]
    assert roster.worker.run_once()
    assert _status(roster, tenant, batch_id) == "done"
    assert decided == [("email",), ("email", "phone")]
    with roster.db.read() as conn:
        index = conn.execute(
            sa.select(identifiers_table.c.name, identifiers_table.c.value)
            .where(identifiers_table.c.workspace_id == tenant.id)
            .order_by(identifiers_table.c.value)
        ).all()
    assert [tuple(r) for r in index] == [
        ("phone", "+1"),
        ("phone", "+2"),
        ("email", "a@example.com"),
        ("email", "b@example.com"),
    ]


def test_a_live_lease_is_not_taken_over(roster: Harness) -> None:
    """A batch whose lease has not expired is left to its worker."""
    tenant = roster.tenant()
    batch_id = roster.transition(tenant, [_event("c1", "opened")]).json()["batch_id"]
    assert _claim(roster, "busy-worker") is not None
    assert roster.worker.run_once() is False
    assert _status(roster, tenant, batch_id) == "processing"


def _insert_poison(
    roster: Harness, tenant: Tenant, kind: str = "no_such_kind", payload: bytes = b"{}"
) -> str:
    """A batch no worker can apply (by default a kind without an applier, as an upgrade gone
    wrong), written straight into the queue, past the door."""
    batch_id = str(uuid.uuid4())
    now = int(time.time() * 1000)
    with roster.db.write() as conn:
        batches.insert(
            conn,
            {
                "id": batch_id,
                "workspace_id": tenant.id,
                "kind": kind,
                "status": "queued",
                "payload_sha256": hashlib.sha256(payload).hexdigest(),
                "element_count": 1,
                "accepted_at": now,
                "next_attempt_at": now,
            },
            payload,
        )
    return batch_id


def test_a_batch_that_always_fails_ends_failed_with_its_error_kept(roster: Harness) -> None:
    """A poison batch is retried up to max_attempts, then marked failed with the error kept;
    the workspace's later batches then proceed."""
    tenant = roster.tenant()
    poison = _insert_poison(roster, tenant)
    later = roster.transition(tenant, [_customer("c1", ok=True)]).json()["batch_id"]
    roster.drain()
    failed = roster.batch(tenant, poison)
    assert failed["status"] == "failed"
    assert failed["attempts"] == roster.container.settings.max_attempts
    assert "no_such_kind" in failed["last_error"]
    assert _status(roster, tenant, later) == "done"


def test_a_failing_batch_does_not_block_other_workspaces(roster: Harness) -> None:
    """While one workspace's batch waits for its retry, another workspace's batches apply."""
    stuck, free = roster.tenant("stuck"), roster.tenant("free")
    poison = _insert_poison(roster, stuck)
    batch_id = roster.transition(free, [_customer("c1", ok=True)]).json()["batch_id"]
    patient = roster.container.settings.model_copy(update={"retry_base_seconds": 600.0})
    worker = Worker(roster.db, patient)
    assert worker.run_once()  # the poison batch fails; its retry is ten minutes away
    assert worker.run_once()
    assert _status(roster, free, batch_id) == "done"
    waiting = roster.batch(stuck, poison)
    assert (waiting["status"], waiting["attempts"]) == ("queued", 1)
    assert "no_such_kind" in waiting["last_error"]


def test_a_queued_batch_shows_how_many_are_ahead(roster: Harness) -> None:
    """A queued batch reports how many of its workspace's batches are ahead of it."""
    tenant = roster.tenant()
    ids = [roster.transition(tenant, [_customer("c1", n=i)]).json()["batch_id"] for i in range(3)]
    assert [roster.batch(tenant, i)["ahead"] for i in ids] == [0, 1, 2]
    roster.drain()
    assert [roster.batch(tenant, i)["ahead"] for i in ids] == [0, 0, 0]


def test_every_event_of_a_batch_is_stored_once_with_its_batch(roster: Harness) -> None:
    """Each event of a done batch is stored exactly once and records the batch it came in."""
    tenant = roster.tenant()
    batch_id = roster.transition(tenant, [_event("c1", "a"), _event("c2", "b")]).json()["batch_id"]
    roster.drain()
    with roster.db.read() as conn:
        stored = conn.execute(
            sa.select(sa.func.count()).where(events_table.c.batch_id == batch_id)
        ).scalar_one()
    assert stored == 2
    assert _status(roster, tenant, batch_id) == "done"


def test_the_claim_query_walks_the_queue_index_not_the_whole_ledger(roster: Harness) -> None:
    """With thousands of finished batches, claiming reads only the unfinished ones (query plan)."""
    tenant = roster.tenant()
    now = int(time.time() * 1000)
    rows = [
        {
            "id": str(uuid.uuid4()),
            "workspace_id": tenant.id,
            "kind": "transition",
            "status": "done" if i < 3000 else "queued",
            "payload_sha256": "-",
            "element_count": 1,
            "accepted_at": now,
            "next_attempt_at": now,
        }
        for i in range(3050)
    ]
    with roster.db.write() as conn:
        conn.execute(sa.insert(batches_table), rows)
        conn.exec_driver_sql("ANALYZE")
    with roster.db.read() as conn:
        compiled = batches._claim_query(now).compile(dialect=conn.dialect)
        if roster.db.dialect == "postgresql":
            sql, params = "EXPLAIN " + str(compiled), compiled.params
        else:
            sql = "EXPLAIN QUERY PLAN " + str(compiled)
            params = tuple(compiled.params[k] for k in compiled.positiontup or ())
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(sql, params)
        plan = "\n".join(str(r[-1]) for r in cursor.fetchall())
    assert "ix_batches_queue" in plan, plan  # the partial index of unfinished batches
    assert "Seq Scan on batches" not in plan, plan
    assert "SCAN batches\n" not in plan + "\n", plan
    assert "SCAN unfinished\n" not in plan + "\n", plan


def test_batches_queued_together_are_applied_together_as_if_one_by_one(roster: Harness) -> None:
    """One worker turn applies the consecutive queued batches of a workspace in one transaction,
    each with its own ledger, with the same result as applying them one after the other."""
    tenant = roster.tenant()
    device = {"platform": "iOS", "push_id": "tok"}
    posted = [
        [_event("x", "opened")],  # creates x
        [
            {
                "type": "customer",
                "customer_id": "x",
                "update_existing_only": True,
                "attributes": {"plan": "free"},
            }
        ],
        [_customer("x", plan="pro")],
        [{"type": "device", "customer_id": "x", "device_id": "d1", "attributes": device}],
        [{"type": "device", "customer_id": "nobody", "device_id": "d2", "attributes": device}],
    ]
    ids = [roster.transition(tenant, elements).json()["batch_id"] for elements in posted]
    assert roster.worker.run_once()
    views = [roster.batch(tenant, i) for i in ids]
    assert [v["status"] for v in views] == ["done"] * 5
    assert [v["counts"]["applied"] for v in views] == [1, 1, 1, 1, 0]
    assert [e["code"] for e in views[4]["errors"]] == ["unknown_customer"]
    profile = roster.customer(tenant, "x")
    assert profile is not None
    assert profile["attributes"] == {"plan": "pro"}
    assert profile["created_batch"] == ids[0]
    assert [d["device_id"] for d in profile["devices"]] == ["d1"]
    assert roster.worker.run_once() is False


def test_a_bad_batch_in_a_group_fails_alone(roster: Harness) -> None:
    """A batch that breaks its worker, queued between good ones, ends failed on its own; the good
    batches around it are applied exactly once."""
    tenant = roster.tenant()
    before = roster.transition(tenant, [_event("c1", "before")]).json()["batch_id"]
    corrupt = _insert_poison(roster, tenant, kind="transition", payload=b"not json")
    after = roster.transition(tenant, [_event("c1", "after")]).json()["batch_id"]
    roster.drain()
    assert _status(roster, tenant, before) == "done"
    assert _status(roster, tenant, after) == "done"
    failed = roster.batch(tenant, corrupt)
    assert failed["status"] == "failed"
    assert failed["attempts"] == roster.container.settings.max_attempts
    assert sorted(e["name"] for e in roster.events(tenant, "c1")) == ["after", "before"]


def test_an_innocent_batch_is_never_charged_for_a_bad_one_in_its_group(roster: Harness) -> None:
    """Even with a single attempt allowed, a good batch grouped with a broken one ends done with
    one attempt; only the broken batch fails."""
    tenant = roster.tenant()
    good = roster.transition(tenant, [_event("c1", "good")]).json()["batch_id"]
    corrupt = _insert_poison(roster, tenant, kind="transition", payload=b"not json")
    strict = roster.container.settings.model_copy(update={"max_attempts": 1})
    worker = Worker(roster.db, strict)
    for _ in range(5):  # bounded: group fails, good alone, corrupt alone fails
        if not worker.run_once():
            break
    assert (_status(roster, tenant, good), roster.batch(tenant, good)["attempts"]) == ("done", 1)
    assert roster.batch(tenant, good)["last_error"] is None
    assert _status(roster, tenant, corrupt) == "failed"
    assert [e["name"] for e in roster.events(tenant, "c1")] == ["good"]
