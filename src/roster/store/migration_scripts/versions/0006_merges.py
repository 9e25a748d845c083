"""merges: the profile journal, the merges rate-limit counter, tombstone and stale-skip indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 18:00:00

A merge (MoEngage Merge Users, Customer.io merge_customers, an identity-resolution merge) and a
revert are recorded in ``journal``: what moved (attributes with their values before and after,
devices, event ids), so that a profile's timeline explains it and a merge can be undone later.
``rate_windows.merges`` counts merged users per minute (the vendors' 1,000 user updates).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "journal",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=16)),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.String(length=255)),
        sa.Column("into_uid", sa.BigInteger()),
        sa.Column("into_customer_id", sa.String(length=255)),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_journal_workspace_id_uid", "journal", ["workspace_id", "uid"])
    op.create_index("ix_journal_workspace_id_into_uid", "journal", ["workspace_id", "into_uid"])
    op.create_index(
        "ix_journal_workspace_id_customer_id", "journal", ["workspace_id", "customer_id"]
    )
    op.add_column(
        "rate_windows", sa.Column("merges", sa.Integer(), nullable=False, server_default="0")
    )
    tombstone = sa.text("merged_into IS NOT NULL")
    op.create_index(
        "ix_customers_tombstones",
        "customers",
        ["merged_at"],
        sqlite_where=tombstone,
        postgresql_where=tombstone,
    )
    stale = sa.text("code = 'stale_attribute_skipped'")
    op.create_index(
        "ix_batch_issues_stale_key",
        "batch_issues",
        ["key"],
        sqlite_where=stale,
        postgresql_where=stale,
    )


def downgrade() -> None:
    op.drop_index("ix_batch_issues_stale_key", table_name="batch_issues")
    op.drop_index("ix_customers_tombstones", table_name="customers")
    op.execute("ALTER TABLE rate_windows DROP COLUMN merges")
    op.drop_table("journal")
