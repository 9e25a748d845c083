"""loyalty: wallets, wallet transactions, tiers, migrated metrics and purchase values

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 13:00:00

The Masivo loyalty migration: a wallet per customer and reward, its transactions
(migrated history and live ones), the workspace's tier thresholds, the metrics a customer
migration may carry, the time another surface first changed a customer (it is then no longer
migrated-only), and each purchase event's order value.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("workspaces", sa.Column("tiers", sa.Text(), server_default="[]", nullable=False))
    op.add_column("customers", sa.Column("metrics", sa.Text(), nullable=True))
    op.add_column(
        "customers",
        sa.Column("events_migrated", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("customers", sa.Column("live_since", sa.BigInteger(), nullable=True))
    op.add_column("events", sa.Column("value", sa.String(length=64), nullable=True))
    op.create_table(
        "wallets",
        sa.Column("uid", BigId, nullable=False),
        sa.Column("reward_id", sa.String(length=255), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("opening_balance", sa.String(length=64), nullable=False),
        sa.Column("balance", sa.String(length=64), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("migrated_batch", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["uid"], ["customers.uid"], name=op.f("fk_wallets_uid_customers")),
        sa.PrimaryKeyConstraint("uid", "reward_id", name=op.f("pk_wallets")),
    )
    op.create_table(
        "wallet_transactions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("uid", BigId, nullable=False),
        sa.Column("reward_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.String(length=64), nullable=False),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=True),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["uid"], ["customers.uid"], name=op.f("fk_wallet_transactions_uid_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_transactions")),
    )
    op.create_index(
        "ix_wallet_transactions_uid_live", "wallet_transactions", ["uid", "live"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_wallet_transactions_uid_live", table_name="wallet_transactions")
    op.drop_table("wallet_transactions")
    op.drop_table("wallets")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("value")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("live_since")
        batch.drop_column("events_migrated")
        batch.drop_column("metrics")
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("tiers")
