"""effects: what each applied element did (created, updated, unchanged), kept per batch

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 15:00:00

Each batch counts its applied elements by effect (``created``, ``updated``, ``unchanged``), and
``batch_effects`` keeps one letter per element (``c``, ``u``, ``n``; ``-`` for an element not
applied, whose issues say why), a row per applied part (the whole batch, or each chunk of a
chunked one), so a dry run's report can say what a real run would do to every record. Batches
applied before this revision count none and keep no letters.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for name in ("created", "updated", "unchanged"):
        op.add_column("batches", sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "batch_effects",
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("first_index", sa.Integer(), nullable=False),
        sa.Column("effects", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_batch_effects_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("batch_id", "part", name=op.f("pk_batch_effects")),
    )


def downgrade() -> None:
    op.drop_table("batch_effects")
    for name in ("unchanged", "updated", "created"):
        op.execute(f"ALTER TABLE batches DROP COLUMN {name}")
