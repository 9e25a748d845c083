"""Shared fixtures: a real SQLite file and a real PostgreSQL database per test run.

Every store-touching test takes the ``store`` fixture and so runs on both stores. In CI
(``CI=true``) a PostgreSQL database that cannot be created fails the test; it never skips.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from roster import logs
from roster.bootstrap import Container
from roster.store import migrations
from roster.store.database import Database
from roster_testkit import Harness, empty, pg_database, settings_for

logs.configure("warning")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test process, dropped at the end."""
    with pg_database("roster_test") as url:
        db = Database(url)
        migrations.upgrade(db)
        db.dispose()
        yield url


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


@pytest.fixture
def container(store_url: str) -> Iterator[Container]:
    settings = settings_for(store_url)
    db = Database(
        settings.database_url, sqlite_synchronous=settings.sqlite_synchronous, pool_size=4
    )
    yield Container(settings, db)
    db.dispose()


@pytest.fixture
def roster(container: Container) -> Harness:
    """The API in-process (httpx over ASGI) and a worker driven by the test."""
    return Harness(container)
