"""suppressions: people Customer.io's suppress call deleted and keeps out until unsuppressed

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 16:00:00

``POST /api/v1/customers/{identifier}/suppress`` deletes the person and records the identifier
here; Customer.io calls naming a suppressed identifier are skipped (``suppressed``) until
``/unsuppress`` removes the row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppressions",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("identifier", sa.String(length=255), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "identifier", name=op.f("pk_suppressions")),
    )


def downgrade() -> None:
    op.drop_table("suppressions")
