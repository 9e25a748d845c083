"""runs: a batch may belong to a named run (``X-Roster-Run``); each issue says its outcome

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 13:10:00

A loader (``roster load``, or any client) names the run its requests belong to; each batch
records it, and ``/v1/runs`` adds a run's batches up: their statuses, outcomes and issue codes.
A dry run's batches (``dry_run``) are held apart from the queue until the run is decided as a
whole, then keep only their ledgers. Each issue records what became of its element
(``failed``, ``skipped``, or ``applied`` with a warning), so a loader can report every record
that was not applied with its outcome; an error stored before is a failure, a warning stored
before stays without one.
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
    op.add_column(
        "batches",
        sa.Column("dry_run", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index(
        "ix_batches_workspace_id_run_seq", "batches", ["workspace_id", "run", "seq"], unique=False
    )
    op.add_column("batch_issues", sa.Column("outcome", sa.String(length=8), nullable=True))
    op.execute("UPDATE batch_issues SET outcome = 'failed' WHERE severity = 'error'")


def downgrade() -> None:
    op.execute("ALTER TABLE batch_issues DROP COLUMN outcome")
    op.drop_index("ix_batches_workspace_id_run_seq", table_name="batches")
    op.execute("ALTER TABLE batches DROP COLUMN dry_run")
    op.execute("ALTER TABLE batches DROP COLUMN run")
