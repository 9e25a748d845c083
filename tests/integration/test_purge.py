"""Tombstones of merged customers are purged after 30 days without new data (SPEC §5.2), by
`roster purge` and by idle workers; new data for a tombstone's uid keeps it."""

from __future__ import annotations

import os
import subprocess
import sys

from test_merges import DAY_MS, by_uid, customer, load, merge, now_ms, profile

from roster.services.admin.purge import purge_tombstones
from roster.store import events as event_store
from roster.store.events import EventRow
from roster_testkit import Harness


def test_a_tombstone_without_new_data_for_30_days_is_purged(roster: Harness) -> None:
    t = roster.tenant()
    old = now_ms() - 40 * DAY_MS
    load(
        roster,
        t,
        [
            customer("A"),
            customer("B"),
            customer("C"),
            customer("D"),
            {
                "type": "event",
                "customer_id": "A",
                "actions": [{"action": "o", "current_time": old}],
            },
        ],
    )
    a, c = profile(roster, t, "A")["uid"], profile(roster, t, "C")["uid"]
    merge(roster, t, [("A", "B"), ("C", "D")])
    merged_at = now_ms()
    # Data recorded for C's tombstone ten days after the merge (no API writes to a tombstone:
    # this stands for any future write path, e.g. undoing a merge).
    with roster.db.write() as conn:
        late = EventRow(
            workspace_id=t.id,
            uid=c,
            origin_uid=c,
            name="late",
            occurred_at=merged_at,
            local_time=None,
            tz_offset=None,
            platform=None,
            app_version=None,
            device_id=None,
            attributes="{}",
            received_at=merged_at + 10 * DAY_MS,
            batch_id="x",
            can_trigger=False,
            migrated=False,
            source_id=None,
            value=None,
        )
        event_store.insert_many(conn, [late])

    assert purge_tombstones(roster.db, merged_at + 29 * DAY_MS) == 0
    assert purge_tombstones(roster.db, merged_at + 31 * DAY_MS) == 1
    assert roster.get(f"/v1/customers?uid={a}", t).status_code == 404
    assert roster.get(f"/v1/uids/{a}/events", t).status_code == 404
    assert by_uid(roster, t, c)["merged_into"] == profile(roster, t, "D")["uid"]
    merged_in = profile(roster, t, "B")["merged_in"]
    assert [m["customer_id"] for m in merged_in] == ["A"]  # the journal keeps the merge
    assert purge_tombstones(roster.db, merged_at + 41 * DAY_MS) == 1
    assert roster.get(f"/v1/customers?uid={c}", t).status_code == 404
    assert profile(roster, t, "B")["attributes"] == {}
    assert profile(roster, t, "D")["attributes"] == {}


def test_roster_purge_command(roster: Harness) -> None:
    t = roster.tenant()
    load(roster, t, [customer("A"), customer("B"), customer("C")])
    a = profile(roster, t, "A")["uid"]
    merge(roster, t, [("A", "B")])
    env = {**os.environ, "ROSTER_DATABASE_URL": roster.container.settings.database_url}
    command = [sys.executable, "-m", "roster", "purge"]
    kept = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert kept.returncode == 0, kept.stderr
    assert "purged 0 tombstones" in kept.stdout
    assert by_uid(roster, t, a)["merged_into"] is not None
    done = subprocess.run(
        [*command, "--older-than-days", "0"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "purged 1 tombstone" in done.stdout
    assert roster.get(f"/v1/customers?uid={a}", t).status_code == 404
    assert profile(roster, t, "C")["merged_into"] is None
