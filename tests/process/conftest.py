"""Fixtures for the process tests: a cluster of real ``roster`` processes on a real store.

PostgreSQL tests use the session database from ``tests/conftest.py`` (emptied first); SQLite
tests use a fresh file in ``tmp_path``. Every process is killed (whole process group) at
teardown, and a failing test gets the tail of every process's log in its report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from process_kit import Cluster, opened

from roster.services.admin import workspace_admin
from roster.store import migrations
from roster_testkit import Tenant, empty

CLUSTER_KEY = pytest.StashKey[Cluster]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    cluster = item.stash.get(CLUSTER_KEY, None)
    if cluster is not None and report.failed and report.when in ("call", "setup"):
        report.sections.append(("roster process logs", cluster.tails()))
    return report  # type: ignore[return-value]


def _cluster(request: pytest.FixtureRequest, directory: Path, url: str) -> Cluster:
    cluster = Cluster(directory, url)
    request.node.stash[CLUSTER_KEY] = cluster
    return cluster


@pytest.fixture
def pg_cluster(request: pytest.FixtureRequest, pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """A cluster on the session's PostgreSQL database, emptied first."""
    with opened(pg_url) as db:
        empty(db)
    cluster = _cluster(request, tmp_path, pg_url)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def sqlite_cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """A cluster on a fresh, migrated SQLite file in ``tmp_path``."""
    url = f"sqlite:///{tmp_path / 'roster.db'}"
    with opened(url) as db:
        migrations.upgrade(db)
    cluster = _cluster(request, tmp_path, url)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(params=["postgres", "sqlite"])
def store_cluster(request: pytest.FixtureRequest) -> Cluster:
    """Once per store: PostgreSQL, then SQLite."""
    fixture = {"postgres": "pg_cluster", "sqlite": "sqlite_cluster"}[request.param]
    cluster: Cluster = request.getfixturevalue(fixture)
    return cluster


@pytest.fixture
def make_tenant() -> Callable[[Cluster, str], Tenant]:
    """Create a workspace (unlimited) in the cluster's database, through the service."""

    def make(cluster: Cluster, name: str) -> Tenant:
        with opened(cluster.url) as db:
            ws, key = workspace_admin.create(db, name, default_limits="none")
        return Tenant(ws.id, key)

    return make


FIGURES: list[str] = []


@pytest.fixture
def figure(record_property: Callable[[str, object], None]) -> Callable[[str], None]:
    """Print a ``FIGURE name key=value ...`` line and keep it for the end-of-run summary."""

    def emit(line: str) -> None:
        print(line)
        record_property("figure", line)

    return emit


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":  # under xdist too: user_properties travel with the report
        FIGURES.extend(str(v) for k, v in report.user_properties if k == "figure")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("process test figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
