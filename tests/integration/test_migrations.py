"""Schema migrations produce exactly the schema the code declares, on both stores."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from roster.bootstrap import Container
from roster.store import migrations
from roster.store.schema import metadata


def test_migrations_match_the_declared_schema(container: Container) -> None:
    """After `roster db upgrade`, Alembic finds no difference between the database and schema.py."""
    with container.db.read() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_upgrade_is_idempotent(container: Container) -> None:
    """Upgrading an up-to-date database changes nothing and stays at the newest revision."""
    before = migrations.current_revision(container.db)
    migrations.upgrade(container.db)
    assert migrations.current_revision(container.db) == before == "0001"
