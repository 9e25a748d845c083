"""Schema migrations produce exactly the schema the code declares, on both stores."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from roster.bootstrap import Container
from roster.store import migrations
from roster.store.database import Database
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
    assert migrations.current_revision(container.db) == before == "0003"


def test_batch_payloads_are_compressed_with_lz4_on_postgresql(pg_url: str) -> None:
    """On PostgreSQL (built with lz4, as Debian's is) request bodies are stored lz4-compressed."""
    db = Database(pg_url)
    try:
        with db.read() as conn:
            method = conn.exec_driver_sql(
                "SELECT attcompression FROM pg_attribute"
                " WHERE attrelid = 'batches'::regclass AND attname = 'payload'"
            ).scalar_one()
    finally:
        db.dispose()
    assert method == "l"
