"""attribute batches: the batch that wrote each attribute's value

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 18:20:00

``customers.attribute_batches`` holds ``{attribute name: batch id}`` beside ``attribute_times``,
written with them, so a profile shows each attribute's source time and the batch that wrote
it. Customers last written before this revision have none (NULL): their attributes show no
batch until a batch writes them again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("attribute_batches", sa.Text(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE customers DROP COLUMN attribute_batches")
