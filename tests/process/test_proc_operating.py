"""Operating a real ``roster serve``: its start-up line, the access log, ``/metrics`` with the
counts of its worker processes, and the one-line errors a bad start ends with."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from process_kit import HOST, Cluster, client, drain, opened, post_transition, wait_for
from prometheus_client.parser import text_string_to_metric_families

from roster_testkit import Tenant

pytestmark = pytest.mark.process


def _scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_serve_logs_its_start_each_request_and_scrapes_its_worker_processes(
    store_cluster: Cluster, make_tenant: Callable[[Cluster, str], Tenant]
) -> None:
    """``roster serve --worker-processes`` logs where it listens, on which store and revision;
    one access line per request; and its /metrics adds up what its worker child applied
    (apply durations are counted in the child) with the store's totals."""
    api = store_cluster.add("api", "serve", "--host", HOST, "--worker-processes", "--workers", "1")
    api.start().ready()
    tenant = make_tenant(store_cluster, "ops")
    bad = {"type": "customer", "customer_id": " ", "attributes": {}}
    with client(api) as http:
        ids = []
        for n in range(3):
            good = {"type": "customer", "customer_id": f"c{n}", "attributes": {"n": n}}
            response = post_transition(http, tenant, [good, bad])
            assert response.status_code == 200, response.text
            ids.append(response.json()["batch_id"])
        with opened(store_cluster.url) as db:
            drain(db)
        views = [http.get(f"/v1/batches/{b}", headers=tenant.auth).json() for b in ids]
        samples = _scrape(http.get("/metrics").text)

    applied = sum(v["counts"]["applied"] for v in views)
    failed = sum(v["counts"]["failed"] for v in views)
    kind = (("kind", "transition"),)
    assert samples[("roster_elements_total", (*kind, ("outcome", "applied")))] == applied == 3
    assert samples[("roster_elements_total", (*kind, ("outcome", "failed")))] == failed == 3
    assert samples[("roster_batches_accepted_total", kind)] == 3
    assert samples[("roster_queue_batches", (("status", "queued"),))] == 0
    assert samples[("roster_apply_duration_seconds_count", kind)] >= 1  # from the child

    def logged_scrape() -> bool:  # the line is written once the response has gone out
        return any(e.get("route") == "/metrics" for e in api.events())

    wait_for("the scrape's access log line", logged_scrape, timeout=10)
    events = api.events()
    (started,) = [e for e in events if e["event"] == "serve.started"]
    assert started["listening"] == [api.base_url]
    assert started["version"]
    assert started["revision"]
    assert started["store"].split(":")[0] in ("sqlite", "postgresql")
    posts = [e for e in events if e["event"] == "http.request" and e["method"] == "POST"]
    assert [e["batch_id"] for e in posts] == ids
    line = posts[0]
    assert line["route"] == "/v1/transition/{workspace_id}"
    assert line["status"] == 200
    assert line["workspace_id"] == tenant.id
    assert line["ms"] >= 0
    reads = [e for e in events if e["event"] == "http.request" and e["method"] == "GET"]
    assert {"/v1/batches/{batch_id}", "/metrics", "/healthz"} <= {e["route"] for e in reads}
    assert any(e["batch_id"] == ids[0] for e in reads)


def _roster(args: list[str], cwd: Path, **env: str) -> subprocess.Popen[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ROSTER_")}
    return subprocess.Popen(
        [sys.executable, "-m", "roster", *args],
        env={**base, **env},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_a_bad_start_is_one_line_on_stderr_and_exit_status_2(tmp_path: Path) -> None:
    """An unreachable database (its password masked), a bad setting, an unwritable SQLite
    path and a missing database each end the command with one ``error:`` line and status 2,
    no traceback; nothing is created where the command refused."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cases = {
        "unreachable": (
            ["serve"],
            {"ROSTER_DATABASE_URL": "postgresql://nobody:hunter2@127.0.0.1:1/x"},
            "postgresql://nobody:***@127.0.0.1:1/x",
        ),
        "bad setting": (["serve"], {"ROSTER_PORT": "70000"}, "ROSTER_PORT"),
        "bad token": (["worker"], {"ROSTER_METRICS_TOKEN": "short"}, "ROSTER_METRICS_TOKEN"),
        "unwritable": (
            ["db", "upgrade"],
            {"ROSTER_DATABASE_URL": f"sqlite:///{blocker}/roster.db"},
            "unable to open database file",
        ),
        "missing": (["workspace", "list"], {}, str(tmp_path / "roster.db")),
        "missing for a worker": (["worker"], {}, "no database at"),
    }
    running = {name: _roster(args, tmp_path, **env) for name, (args, env, _) in cases.items()}
    try:
        ended = {name: (proc, *proc.communicate(timeout=60)) for name, proc in running.items()}
    finally:
        for proc in running.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    for name, (proc, stdout, stderr) in ended.items():
        lines = stderr.strip().splitlines()
        assert proc.returncode == 2, (name, stderr)
        assert len(lines) == 1, (name, stderr)
        assert lines[0].startswith("error: "), (name, stderr)
        assert cases[name][2] in lines[0], (name, stderr)
        assert "Traceback" not in stderr + stdout
        assert "hunter2" not in stderr + stdout
        assert "short" not in stderr, name  # a secret's value is never repeated
    assert not (tmp_path / "roster.db").exists()


def test_roster_version(tmp_path: Path) -> None:
    """``roster --version`` prints the version and exits 0, without a database."""
    proc = _roster(["--version"], tmp_path)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert stdout.startswith("roster 0.")
