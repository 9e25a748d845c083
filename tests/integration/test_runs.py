"""Runs: batches sent under one ``X-Roster-Run`` name, added up and read back as a whole."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from typing import Any

from typer.testing import CliRunner

from roster import logs
from roster.cli.main import app
from roster_testkit import Harness, Tenant

RUN = {"X-Roster-Run": "crm-2026.12:first_try"}


def _customer(cid: str, **attributes: object) -> dict[str, object]:
    return {"type": "customer", "customer_id": cid, "attributes": attributes}


def _bad_customer(n: int) -> dict[str, object]:
    """A customer element the worker fails: its id is blank."""
    return {"type": "customer", "customer_id": " " * (n % 3 + 1), "attributes": {}}


def _post_run(roster: Harness, tenant: Tenant, batches: list[list[dict[str, object]]]) -> list[str]:
    ids = []
    for elements in batches:
        response = roster.transition(tenant, elements, **RUN)
        assert response.status_code == 200, response.text
        ids.append(response.json()["batch_id"])
    return ids


def _all_issues(roster: Harness, tenant: Tenant, batch_ids: list[str]) -> list[dict[str, Any]]:
    """Every issue of these batches as the batch API gives them, in acceptance order."""
    found = []
    for batch_id in batch_ids:
        batch = roster.batch(tenant, batch_id)
        tagged = [("error", i) for i in batch["errors"]] + [
            ("warning", i) for i in batch["warnings"]
        ]
        for severity, issue in sorted(tagged, key=lambda t: t[1]["index"]):
            found.append({**issue, "severity": severity, "batch_id": batch_id})
    return found


def test_a_run_adds_up_its_batches(roster: Harness) -> None:
    """A run's counts, statuses, kinds and issue codes are the sums of its batches', and a
    batch sent without the header is not part of it."""
    tenant = roster.tenant()
    ids = _post_run(
        roster,
        tenant,
        [
            [_customer("c1", plan="gold"), _bad_customer(0)],
            [_customer("c2"), _bad_customer(1), _bad_customer(2), _customer("c3", uid=1)],
        ],
    )
    assert roster.transition(tenant, [_customer("elsewhere")]).status_code == 200
    roster.drain()

    listed = roster.get("/v1/runs", tenant).json()["runs"]
    assert [r["run"] for r in listed] == [RUN["X-Roster-Run"]]
    view = roster.get(f"/v1/runs/{RUN['X-Roster-Run']}", tenant).json()
    batches = [roster.batch(tenant, i) for i in ids]
    for outcome in ("total", "applied", "skipped", "failed"):
        assert view["counts"][outcome] == sum(b["counts"][outcome] for b in batches)
    expected = {"total": 2, "held": 0, "queued": 0, "processing": 0, "done": 2, "failed": 0}
    assert view["batches"] == expected
    assert (view["status"], view["progress"], view["kinds"]) == ("finished", 1.0, {"transition": 2})
    issues = _all_issues(roster, tenant, ids)
    errors = Counter(i["code"] for i in issues if i["severity"] == "error")
    warnings = Counter(i["code"] for i in issues if i["severity"] == "warning")
    assert view["codes"] == {"errors": dict(errors), "warnings": dict(warnings)}
    assert view["first_accepted_at"] == batches[0]["accepted_at"]
    assert view["last_finished_at"] == max(b["finished_at"] for b in batches)
    assert listed[0] == {k: v for k, v in view.items() if k not in ("kinds", "codes")}
    for batch in batches:
        assert batch["run"] == RUN["X-Roster-Run"]


def test_a_run_still_queued_says_so(roster: Harness) -> None:
    """Before the worker gets to it, a run is running, its batches queued, nothing decided."""
    tenant = roster.tenant()
    _post_run(roster, tenant, [[_customer("c1")], [_customer("c2")]])
    view = roster.get(f"/v1/runs/{RUN['X-Roster-Run']}", tenant).json()
    assert (view["status"], view["progress"], view["last_finished_at"]) == ("running", 0.0, None)
    assert view["batches"]["queued"] == 2
    roster.drain()
    view = roster.get(f"/v1/runs/{RUN['X-Roster-Run']}", tenant).json()
    assert (view["status"], view["progress"]) == ("finished", 1.0)


def test_a_runs_issues_page_by_page_and_as_csv_are_its_batches_issues(roster: Harness) -> None:
    """Following ``next`` page by page gives every issue of the run's batches exactly once, in
    acceptance then element order; the CSV holds the same rows."""
    tenant = roster.tenant()
    ids = _post_run(
        roster,
        tenant,
        [
            [_bad_customer(n) for n in range(7)] + [_customer("ok", uid=5)],
            [_customer("c2")],
            [_bad_customer(n) for n in range(5)],
        ],
    )
    roster.drain()
    expected = _all_issues(roster, tenant, ids)
    assert len(expected) == 13

    pages, after = [], None
    while True:
        params: dict[str, Any] = {"limit": 4, **({"after": after} if after else {})}
        page = roster.get(f"/v1/runs/{RUN['X-Roster-Run']}/issues", tenant, params=params).json()
        pages.append(page["issues"])
        after = page["next"]
        if after is None:
            break
    got = [i for page in pages for i in page]
    assert [len(p) for p in pages] == [4, 4, 4, 1]
    fields = ("batch_id", "index", "severity", "key", "field", "code", "message")
    assert [{k: i[k] for k in fields} for i in got] == [{k: i[k] for k in fields} for i in expected]
    assert {i["kind"] for i in got} == {"transition"}
    outcomes = {(i["code"], i["outcome"]) for i in got}
    assert outcomes == {("invalid_customer_id", "failed"), ("system_attribute", "applied")}

    response = roster.get(
        f"/v1/runs/{RUN['X-Roster-Run']}/issues", tenant, params={"format": "csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["code"] for r in rows] == [i["code"] for i in got]
    assert [int(r["index"]) for r in rows] == [i["index"] for i in got]
    assert [r["message"] for r in rows] == [i["message"] for i in got]


def test_a_bad_run_name_is_refused_and_nothing_is_stored(roster: Harness) -> None:
    """A run name that breaks the rule is a 400 naming the header; nothing is stored."""
    tenant = roster.tenant()
    for bad in ("", "has space", "-leading", "x" * 101, "a/b", "é".encode()):
        response = roster.transition(tenant, [_customer("c1")], **{"X-Roster-Run": bad})  # type: ignore[arg-type]
        assert response.status_code == 400, bad
        assert response.json()["error"]["field"] == "X-Roster-Run"
    assert roster.stored_batches() == 0


def test_unknown_runs_and_cursors_are_refused(roster: Harness) -> None:
    """An unknown run is 404, also as CSV; a malformed run name or cursor is a 400 naming it."""
    tenant = roster.tenant()
    for path in ("/v1/runs/nope", "/v1/runs/nope/issues", "/v1/runs/nope/issues?format=csv"):
        assert roster.get(path, tenant).status_code == 404, path
    _post_run(roster, tenant, [[_customer("c1")]])
    response = roster.get("/v1/runs/a%20b", tenant)
    assert (response.status_code, response.json()["error"]["field"]) == (400, "run")
    response = roster.get(f"/v1/runs/{RUN['X-Roster-Run']}/issues", tenant, params={"after": "x.1"})
    assert (response.status_code, response.json()["error"]["field"]) == (400, "after")


def test_a_run_is_seen_by_its_own_workspace_only(roster: Harness) -> None:
    """Another workspace neither lists a run nor reads it, even under the same name."""
    tenant, other = roster.tenant("one"), roster.tenant("two")
    _post_run(roster, tenant, [[_customer("c1")]])
    roster.drain()
    assert roster.get("/v1/runs", other).json() == {"runs": [], "next": None}
    assert roster.get(f"/v1/runs/{RUN['X-Roster-Run']}", other).status_code == 404


def test_batches_are_listed_by_run_and_a_replay_keeps_the_first_run(roster: Harness) -> None:
    """``/v1/batches?run=`` lists the run's batches only; a replay of an idempotent request
    under another run name returns the first batch, still in the first run."""
    tenant = roster.tenant()
    (first,) = _post_run(roster, tenant, [[_customer("c1")]])
    other = roster.transition(tenant, [_customer("c2")], **{"X-Roster-Run": "other"})
    key = {"Idempotency-Key": "k1"}
    sent = roster.transition(tenant, [_customer("c3")], **RUN, **key).json()["batch_id"]
    again = roster.transition(tenant, [_customer("c3")], **{"X-Roster-Run": "other"}, **key)
    assert again.json()["batch_id"] == sent
    listed = roster.get("/v1/batches", tenant, params={"run": RUN["X-Roster-Run"]}).json()
    assert [b["batch_id"] for b in listed["batches"]] == [sent, first]
    others = roster.get("/v1/batches", tenant, params={"run": "other"}).json()["batches"]
    assert [b["batch_id"] for b in others] == [other.json()["batch_id"]]


def test_roster_runs_show_prints_what_the_api_gives(roster: Harness, store_url: str) -> None:
    """``roster runs list`` and ``roster runs show --json`` read the same as ``/v1/runs``."""
    tenant = roster.tenant()
    _post_run(roster, tenant, [[_customer("c1"), _bad_customer(0)]])
    roster.drain()
    env = {"ROSTER_DATABASE_URL": store_url, "ROSTER_WORKSPACE": tenant.id}
    runner = CliRunner()
    try:
        shown = runner.invoke(app, ["runs", "show", RUN["X-Roster-Run"], "--json"], env=env)
        listed = runner.invoke(app, ["runs", "list"], env=env)
        missing = runner.invoke(app, ["runs", "show", "nope"], env=env)
    finally:  # the CLI configured the logs on the runner's stream, closed by now
        logs.configure("warning")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output) == roster.get(f"/v1/runs/{RUN['X-Roster-Run']}", tenant).json()
    assert listed.exit_code == 0, listed.output
    assert RUN["X-Roster-Run"] in listed.output
    assert missing.exit_code == 2
    assert "run 'nope' not found" in missing.output
