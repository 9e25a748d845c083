"""batch payloads in a table of their own, with the reading of their entries

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 16:30:00

A batch's row changes three times (claimed, renewed, done); SQLite rewrites a whole row,
overflow pages included, whenever any of its columns changes, so every status change copied the
request body (up to 10 MB) once more through the write-ahead log. The bodies move to
``batch_payloads``, written once at accept and only read afterwards. On PostgreSQL the column
keeps lz4 compression (0002). ``prepared`` holds the API's reading of a migration body's
entries (``formats.masivo_entries``); batches stored before have none and are read by the
worker.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_payloads",
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("prepared", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_batch_payloads_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_batch_payloads")),
    )
    _lz4("batch_payloads")
    op.execute("INSERT INTO batch_payloads (batch_id, payload) SELECT id, payload FROM batches")
    # A plain DROP COLUMN (SQLite 3.35 and newer): copying the table, as Alembic's batch mode
    # would, cannot drop it while other tables' foreign keys point at it.
    op.execute("ALTER TABLE batches DROP COLUMN payload")


def downgrade() -> None:
    """The bodies go back into ``batches.payload`` (nullable: SQLite cannot add a NOT NULL
    column without a default to a table that has rows)."""
    op.execute("ALTER TABLE batches ADD COLUMN payload " + _blob())
    op.execute(
        "UPDATE batches SET payload ="
        " (SELECT p.payload FROM batch_payloads AS p WHERE p.batch_id = batches.id)"
    )
    op.drop_table("batch_payloads")
    _lz4("batches")


def _blob() -> str:
    return "BYTEA" if op.get_bind().dialect.name == "postgresql" else "BLOB"


def _lz4(table: str) -> None:
    """lz4 for the payload column on PostgreSQL 14 and newer, when the server has it (0002)."""
    bind = op.get_bind()
    version = bind.dialect.server_version_info or (0,)
    if bind.dialect.name != "postgresql" or tuple(version) < (14,):
        return
    try:
        with bind.begin_nested():
            op.execute(f"ALTER TABLE {table} ALTER COLUMN payload SET COMPRESSION lz4")
    except sa.exc.DBAPIError:
        pass
