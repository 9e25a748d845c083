"""workspace turns: the fair claim across workspaces

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 20:20:00

``workspace_turns`` keeps each workspace's turn (``domain.fairness``): the claim takes the ready
workspace whose turn comes first. Workspaces start without a row (turn 0, the front).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workspace_turns",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("turn", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_workspace_turns_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_workspace_turns")),
    )


def downgrade() -> None:
    op.drop_table("workspace_turns")
