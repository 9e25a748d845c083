"""Schema migrations produce exactly the schema the code declares, on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from roster.bootstrap import Container
from roster.store import batches, migrations, schema
from roster.store.database import Database
from roster.store.schema import metadata
from roster_testkit import pg_database


def test_migrations_match_the_declared_schema(container: Container) -> None:
    """After `roster db upgrade`, Alembic finds no difference between the database and schema.py."""
    with container.db.read() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_upgrade_is_idempotent(container: Container) -> None:
    """Upgrading an up-to-date database changes nothing and stays at the newest revision."""
    before = migrations.current_revision(container.db)
    migrations.upgrade(container.db)
    assert migrations.current_revision(container.db) == before == "0014"


@pytest.mark.parametrize(
    ("table", "column"), [("batch_payloads", "payload"), ("batch_chunks", "data")]
)
def test_request_bodies_are_compressed_with_lz4_on_postgresql(
    pg_url: str, table: str, column: str
) -> None:
    """On PostgreSQL (built with lz4, as Debian's is) request bodies and import chunks are
    stored lz4-compressed."""
    db = Database(pg_url)
    try:
        with db.read() as conn:
            method = conn.exec_driver_sql(
                "SELECT attcompression FROM pg_attribute"
                f" WHERE attrelid = '{table}'::regclass AND attname = '{column}'"
            ).scalar_one()
    finally:
        db.dispose()
    assert method == "l"


#: A workspace row as the schema of any revision holds it.
WORKSPACE = {
    "id": "W1",
    "name": "w",
    "key_hash": "x" * 64,
    "key_rotated_at": 0,
    "created_at": 0,
    "identifiers": "[]",
    "limits": "{}",
}


@pytest.fixture(params=["sqlite", "postgres"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database with no schema yet, on each store."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    with pg_database("roster_blank") as url:
        yield url


def test_upgrading_moves_stored_request_bodies_to_their_own_table(blank_url: str) -> None:
    """0004 moves every batch's body out of its row, byte for byte; downgrading moves it back."""
    db = Database(blank_url)
    body = b'{"customers": [{"id": "c1"}]}' + bytes(range(256))
    try:
        migrations.upgrade(db, "0003")
        with db.write() as conn:
            conn.execute(sa.insert(schema.workspaces), WORKSPACE)
            conn.execute(
                sa.text(
                    "INSERT INTO batches (id, workspace_id, kind, status, payload,"
                    " payload_sha256, element_count, accepted_at, next_attempt_at)"
                    " VALUES ('b1', 'W1', 'masivo.customers', 'queued', :p, '-', 1, 0, 0)"
                ),
                {"p": body},
            )
        migrations.upgrade(db)
        with db.read() as conn:
            assert batches.payload_of(conn, "b1") == (body, None)  # stored before: no reading
            columns = {c["name"] for c in sa.inspect(conn).get_columns("batches")}
        assert "payload" not in columns
        _downgrade(db, "0003")
        with db.read() as conn:
            moved = conn.execute(sa.text("SELECT payload FROM batches WHERE id = 'b1'"))
            assert bytes(moved.scalar_one()) == body
            assert not sa.inspect(conn).has_table("batch_payloads")
    finally:
        db.dispose()


def test_chunked_batches_upgrade_and_downgrade(blank_url: str) -> None:
    """0005 adds the chunks table and every stored batch starts with no chunk done; a
    downgrade removes both and keeps the batches."""
    db = Database(blank_url)
    try:
        migrations.upgrade(db, "0004")
        with db.write() as conn:
            conn.execute(sa.insert(schema.workspaces), WORKSPACE)
            conn.execute(
                sa.text(
                    "INSERT INTO batches (id, workspace_id, kind, status, payload_sha256,"
                    " element_count, accepted_at, next_attempt_at)"
                    " VALUES ('b1', 'W1', 'transition', 'queued', '-', 1, 0, 0)"
                )
            )
        migrations.upgrade(db)
        with db.read() as conn:
            done = conn.execute(sa.text("SELECT done_chunks FROM batches WHERE id = 'b1'"))
            assert done.scalar_one() == 0
            assert sa.inspect(conn).has_table("batch_chunks")
        _downgrade(db, "0004")
        with db.read() as conn:
            assert not sa.inspect(conn).has_table("batch_chunks")
            columns = {c["name"] for c in sa.inspect(conn).get_columns("batches")}
            assert "done_chunks" not in columns
            assert conn.execute(sa.text("SELECT count(*) FROM batches")).scalar_one() == 1
    finally:
        db.dispose()


def test_merges_upgrade_and_downgrade(blank_url: str) -> None:
    """0006 adds the journal and the merges counter (existing windows count none); a
    downgrade removes both and keeps the rate windows."""
    db = Database(blank_url)
    try:
        migrations.upgrade(db, "0005")
        with db.write() as conn:
            conn.execute(sa.insert(schema.workspaces), WORKSPACE)
            conn.execute(
                sa.text(
                    "INSERT INTO rate_windows (workspace_id, window_start, users, events)"
                    " VALUES ('W1', 0, 3, 4)"
                )
            )
        migrations.upgrade(db)
        with db.read() as conn:
            merges = conn.execute(sa.text("SELECT merges FROM rate_windows")).scalar_one()
            assert merges == 0
            assert sa.inspect(conn).has_table("journal")
        _downgrade(db, "0005")
        with db.read() as conn:
            assert not sa.inspect(conn).has_table("journal")
            columns = {c["name"] for c in sa.inspect(conn).get_columns("rate_windows")}
            assert "merges" not in columns
            assert conn.execute(sa.text("SELECT users FROM rate_windows")).scalar_one() == 3
    finally:
        db.dispose()


def test_runs_upgrade_and_downgrade(blank_url: str) -> None:
    """0007 gives batches a run (none for those stored before) and issues an outcome (an error
    stored before failed its element; a warning's is unknown); a downgrade removes both and
    keeps the batches and issues."""
    db = Database(blank_url)
    try:
        migrations.upgrade(db, "0006")
        with db.write() as conn:
            conn.execute(sa.insert(schema.workspaces), WORKSPACE)
            conn.execute(
                sa.text(
                    "INSERT INTO batches (id, workspace_id, kind, status, payload_sha256,"
                    " element_count, accepted_at, next_attempt_at)"
                    " VALUES ('b1', 'W1', 'transition', 'done', '-', 2, 0, 0)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO batch_issues (batch_id, ordinal, severity, code, message)"
                    " VALUES ('b1', 0, 'error', 'e', 'm'), ('b1', 1, 'warning', 'w', 'm')"
                )
            )
        migrations.upgrade(db)
        with db.read() as conn:
            run = conn.execute(sa.text("SELECT run FROM batches WHERE id = 'b1'"))
            assert run.scalar_one() is None
            outcomes = conn.execute(sa.text("SELECT outcome FROM batch_issues ORDER BY ordinal"))
            assert outcomes.scalars().all() == ["failed", None]
        _downgrade(db, "0006")
        with db.read() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("batches")}
            assert "run" not in columns
            issue_columns = {c["name"] for c in sa.inspect(conn).get_columns("batch_issues")}
            assert "outcome" not in issue_columns
            assert conn.execute(sa.text("SELECT count(*) FROM batches")).scalar_one() == 1
            assert conn.execute(sa.text("SELECT count(*) FROM batch_issues")).scalar_one() == 2
    finally:
        db.dispose()


def test_effects_upgrade_and_downgrade(blank_url: str) -> None:
    """0008 gives batches counts by effect (none for those applied before) and a table of each
    element's effect; a downgrade removes both and keeps the batches."""
    db = Database(blank_url)
    try:
        migrations.upgrade(db, "0007")
        with db.write() as conn:
            conn.execute(sa.insert(schema.workspaces), WORKSPACE)
            conn.execute(
                sa.text(
                    "INSERT INTO batches (id, workspace_id, kind, status, payload_sha256,"
                    " element_count, accepted_at, next_attempt_at, applied)"
                    " VALUES ('b1', 'W1', 'transition', 'done', '-', 2, 0, 0, 2)"
                )
            )
        migrations.upgrade(db)
        with db.read() as conn:
            counts = conn.execute(
                sa.text("SELECT applied, created, updated, unchanged FROM batches")
            ).one()
            assert tuple(counts) == (2, 0, 0, 0)
            assert conn.execute(sa.text("SELECT count(*) FROM batch_effects")).scalar_one() == 0
        _downgrade(db, "0007")
        with db.read() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("batches")}
            assert not {"created", "updated", "unchanged"} & columns
            assert "batch_effects" not in sa.inspect(conn).get_table_names()
            assert conn.execute(sa.text("SELECT count(*) FROM batches")).scalar_one() == 1
    finally:
        db.dispose()


def test_suppressions_upgrade_and_downgrade(blank_url: str) -> None:
    """0009 adds the suppression list, empty; a downgrade drops it."""
    db = Database(blank_url)
    try:
        migrations.upgrade(db)
        with db.read() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM suppressions")).scalar_one() == 0
        _downgrade(db, "0008")
        with db.read() as conn:
            assert "suppressions" not in sa.inspect(conn).get_table_names()
    finally:
        db.dispose()


def test_groups_upgrade_and_downgrade(blank_url: str) -> None:
    """0010 adds groups and their members, empty; a downgrade drops both."""
    db = Database(blank_url)
    try:
        migrations.upgrade(db)
        with db.read() as conn:
            for table in ("groups", "group_members"):
                assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
        _downgrade(db, "0009")
        with db.read() as conn:
            names = sa.inspect(conn).get_table_names()
            assert "groups" not in names
            assert "group_members" not in names
    finally:
        db.dispose()


def test_customer_browsing_indexes_upgrade_and_downgrade(blank_url: str) -> None:
    """0011 adds the indexes customers are listed by; a downgrade drops them."""
    names = {
        "ix_customers_workspace_id_uid",
        "ix_customers_workspace_id_updated_at",
        "ix_customers_workspace_id_created_at",
    }
    db = Database(blank_url)
    try:
        migrations.upgrade(db)
        with db.read() as conn:
            found = {i["name"] for i in sa.inspect(conn).get_indexes("customers")}
            assert names <= found
        _downgrade(db, "0010")
        with db.read() as conn:
            found = {i["name"] for i in sa.inspect(conn).get_indexes("customers")}
            assert not names & found
    finally:
        db.dispose()


def test_operators_upgrade_and_downgrade(blank_url: str) -> None:
    """0012 adds the dashboard's operators, its sign-in throttle and the instance's secrets,
    empty; a downgrade drops them and keeps the workspaces."""
    tables = {"operators", "sign_in_throttle", "instance_secrets"}
    db = Database(blank_url)
    try:
        migrations.upgrade(db, "0011")
        with db.write() as conn:
            conn.execute(sa.insert(schema.workspaces), WORKSPACE)
        migrations.upgrade(db)
        with db.read() as conn:
            assert tables <= set(sa.inspect(conn).get_table_names())
            assert conn.execute(sa.text("SELECT count(*) FROM operators")).scalar_one() == 0
        _downgrade(db, "0011")
        with db.read() as conn:
            assert not tables & set(sa.inspect(conn).get_table_names())
            assert conn.execute(sa.text("SELECT count(*) FROM workspaces")).scalar_one() == 1
    finally:
        db.dispose()


def test_attribute_batches_upgrade_and_downgrade(blank_url: str) -> None:
    """0013 adds the batch of each attribute, empty for customers written before it; a
    downgrade drops it."""
    db = Database(blank_url)
    try:
        migrations.upgrade(db)
        with db.read() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("customers")}
            assert "attribute_batches" in columns
        _downgrade(db, "0012")
        with db.read() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("customers")}
            assert "attribute_batches" not in columns
    finally:
        db.dispose()


def test_workspace_turns_upgrade_and_downgrade(blank_url: str) -> None:
    """0014 adds the workspaces' turns, empty (every workspace at the front of the fair claim);
    a downgrade drops them and keeps the workspaces."""
    db = Database(blank_url)
    try:
        migrations.upgrade(db, "0013")
        with db.write() as conn:
            conn.execute(sa.insert(schema.workspaces), WORKSPACE)
        migrations.upgrade(db)
        with db.read() as conn:
            assert "workspace_turns" in sa.inspect(conn).get_table_names()
            assert conn.execute(sa.text("SELECT count(*) FROM workspace_turns")).scalar_one() == 0
        _downgrade(db, "0013")
        with db.read() as conn:
            assert "workspace_turns" not in sa.inspect(conn).get_table_names()
            assert conn.execute(sa.text("SELECT count(*) FROM workspaces")).scalar_one() == 1
    finally:
        db.dispose()


def _downgrade(db: Database, revision: str) -> None:
    """Downgrade the schema to ``revision`` on the writer's connection."""
    with db.writer.connect() as conn:
        cfg = migrations.alembic_config(db)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
