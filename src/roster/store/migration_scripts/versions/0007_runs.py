"""runs: a batch may belong to a named run (``X-Roster-Run``), a whole migration read as one

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 13:10:00

A loader (``roster load``, or any client) names the run its requests belong to; each batch
records it, and ``/v1/runs`` adds a run's batches up: their statuses, outcomes and issue codes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("batches", sa.Column("run", sa.String(length=100), nullable=True))
    op.create_index(
        "ix_batches_workspace_id_run_seq", "batches", ["workspace_id", "run", "seq"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_batches_workspace_id_run_seq", table_name="batches")
    op.execute("ALTER TABLE batches DROP COLUMN run")
