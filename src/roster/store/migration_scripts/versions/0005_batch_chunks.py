"""batch chunks: large request bodies (CSV imports) stored and applied a chunk at a time

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 18:30:00

A CSV people import may be 100 MB: it is split at the door into chunks of whole records
(``batch_chunks``), so neither the API nor the worker ever holds the file in memory. The worker
applies one chunk per transaction, together with ``batches.done_chunks`` (how many are applied),
so a worker that dies mid-file resumes at the first chunk not applied, and none is applied twice.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_chunks",
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("first_row", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_batch_chunks_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("batch_id", "seq", name=op.f("pk_batch_chunks")),
    )
    op.add_column(
        "batches", sa.Column("done_chunks", sa.Integer(), nullable=False, server_default="0")
    )
    _lz4_data()


def downgrade() -> None:
    op.execute("ALTER TABLE batches DROP COLUMN done_chunks")
    op.drop_table("batch_chunks")


def _lz4_data() -> None:
    """lz4 for the chunks on PostgreSQL 14 and newer, as for request bodies (0002, 0004): its
    default, pglz, compresses a 100 MB file several times slower."""
    bind = op.get_bind()
    version = bind.dialect.server_version_info or (0,)
    if bind.dialect.name != "postgresql" or tuple(version) < (14,):
        return
    try:
        with bind.begin_nested():
            op.execute("ALTER TABLE batch_chunks ALTER COLUMN data SET COMPRESSION lz4")
    except sa.exc.DBAPIError:
        pass
