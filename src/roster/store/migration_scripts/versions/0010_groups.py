"""groups: Data Pipelines ``group`` calls, a group's traits and its members

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 16:10:00

A ``group`` call names a group (``groupId``) with traits, and makes the person a member.
``groups`` keeps each group's traits with their source times (last write wins per trait, as a
profile's attributes); ``group_members`` the people in each.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("group_id", sa.String(length=255), nullable=False),
        sa.Column("traits", sa.Text(), nullable=False),
        sa.Column("trait_times", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "group_id", name=op.f("pk_groups")),
    )
    op.create_table(
        "group_members",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("group_id", sa.String(length=255), nullable=False),
        sa.Column("uid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("joined_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["uid"], ["customers.uid"], name=op.f("fk_group_members_uid_customers")
        ),
        sa.PrimaryKeyConstraint("workspace_id", "group_id", "uid", name=op.f("pk_group_members")),
    )
    op.create_index("ix_group_members_uid", "group_members", ["uid"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_group_members_uid", table_name="group_members")
    op.drop_table("group_members")
    op.drop_table("groups")
