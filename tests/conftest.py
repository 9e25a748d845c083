"""Shared fixtures: a real SQLite file and a real PostgreSQL database per test run.

Every store-touching test takes the ``store`` fixture and so runs on both stores. In CI
(``CI=true``) a PostgreSQL database that cannot be created fails the test; it never skips.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from roster import logs
from roster.bootstrap import Container
from roster.settings import Settings
from roster.store import migrations
from roster.store.database import Database
from roster.store.schema import metadata
from roster_testkit import IN_CI, PG_ADMIN_URL, Harness

logs.configure("warning")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test process, dropped at the end."""
    name = f"roster_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI ({PG_ADMIN_URL}): {exc}")
        pytest.skip(f"no PostgreSQL at {PG_ADMIN_URL} (with CI=true this fails): {exc}")
    admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    db = Database(url)
    migrations.upgrade(db)
    db.dispose()
    try:
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite file for this test process."""
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'roster.db'}"
    db = Database(url)
    migrations.upgrade(db)
    db.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty, migrated database: once per store."""
    url: str = request.getfixturevalue(
        {"sqlite": "sqlite_url", "postgres": "pg_url"}[request.param]
    )
    db = Database(url)
    empty(db)
    db.dispose()
    return url


def empty(db: Database) -> None:
    """Delete every row, children first, so each test starts from an empty store."""
    with db.write() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(sa.delete(table))


def test_settings(url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": url,
        "lease_seconds": 2.0,
        "heartbeat_seconds": 0.5,
        "poll_seconds": 0.05,
        "retry_base_seconds": 0.05,
        "retry_max_seconds": 0.2,
        "max_attempts": 3,
        "log_json": True,
        "log_level": "warning",
        "db_pool_size": 4,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def container(store_url: str) -> Iterator[Container]:
    settings = test_settings(store_url)
    db = Database(
        settings.database_url, sqlite_synchronous=settings.sqlite_synchronous, pool_size=4
    )
    yield Container(settings, db)
    db.dispose()


@pytest.fixture
def roster(container: Container) -> Harness:
    """The API in-process (httpx over ASGI) and a worker driven by the test."""
    return Harness(container)
