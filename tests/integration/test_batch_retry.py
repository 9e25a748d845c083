"""A failed batch retried by its owner: queued again, its attempts from 0, applied; only a
failed batch of the caller's workspace can be retried."""

from __future__ import annotations

import json

import sqlalchemy as sa

from roster.store.schema import batches as batch_table
from roster_testkit import Harness


def test_a_failed_batch_is_retried_and_applied(roster: Harness) -> None:
    tenant = roster.tenant()
    sent = roster.transition(tenant, [{"type": "customer", "customer_id": "ada"}])
    batch_id = sent.json()["batch_id"]
    with roster.db.write() as conn:  # no worker can apply it (as after an upgrade gone wrong)
        conn.execute(sa.update(batch_table).where(batch_table.c.id == batch_id).values(kind="gone"))
    roster.drain()
    failed = roster.batch(tenant, batch_id)
    assert failed["status"] == "failed"
    assert roster.customer(tenant, "ada") is None
    with roster.db.write() as conn:  # the cause fixed
        conn.execute(
            sa.update(batch_table).where(batch_table.c.id == batch_id).values(kind="transition")
        )
    retried = roster.request("POST", f"/v1/batches/{batch_id}/retry", headers=tenant.auth)
    assert retried.status_code == 202, retried.text
    assert (retried.json()["status"], retried.json()["attempts"]) == ("queued", 0)
    roster.drain()
    done = roster.batch(tenant, batch_id)
    assert (done["status"], done["counts"]["applied"]) == ("done", 1)
    assert roster.customer(tenant, "ada") is not None
    again = roster.request("POST", f"/v1/batches/{batch_id}/retry", headers=tenant.auth)
    assert again.status_code == 409, again.text
    other = roster.tenant("other")
    stranger = roster.request("POST", f"/v1/batches/{batch_id}/retry", headers=other.auth)
    assert stranger.status_code == 404, stranger.text


def test_roster_batches_retry_queues_a_failed_batch(roster: Harness, store_url: str) -> None:
    from typer.testing import CliRunner

    from roster import logs
    from roster.cli.main import app

    tenant = roster.tenant()
    sent = roster.transition(tenant, [{"type": "customer", "customer_id": "bo"}])
    batch_id = sent.json()["batch_id"]
    with roster.db.write() as conn:
        conn.execute(sa.update(batch_table).where(batch_table.c.id == batch_id).values(kind="gone"))
    roster.drain()
    runner = CliRunner()
    env = {"ROSTER_DATABASE_URL": store_url}
    try:
        done = runner.invoke(
            app, ["batches", "retry", batch_id, "--workspace", tenant.id, "--json"], env=env
        )
        assert done.exit_code == 0, done.output
        assert json.loads(done.stdout)["status"] == "queued"
        again = runner.invoke(
            app, ["batches", "retry", batch_id, "--workspace", tenant.id], env=env
        )
        assert again.exit_code == 2
        assert "only a failed batch is retried" in again.output
    finally:
        logs.configure("warning")  # the CLI configured the logs on the runner's stream
