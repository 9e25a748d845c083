"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23 05:30:54.870626
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("origin_uid", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("occurred_at", sa.BigInteger(), nullable=False),
        sa.Column("local_time", sa.BigInteger(), nullable=True),
        sa.Column("tz_offset", sa.Integer(), nullable=True),
        sa.Column("platform", sa.String(length=64), nullable=True),
        sa.Column("app_version", sa.String(length=255), nullable=True),
        sa.Column("device_id", sa.String(length=255), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.Column("can_trigger", sa.Boolean(), nullable=False),
        sa.Column("migrated", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("source_id", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_source_id",
            ["workspace_id", "source_id"],
            unique=True,
            sqlite_where=sa.text("source_id IS NOT NULL"),
            postgresql_where=sa.text("source_id IS NOT NULL"),
        )
        batch_op.create_index("ix_events_uid_occurred_at", ["uid", "occurred_at"], unique=False)

    op.create_table(
        "rate_windows",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("users", sa.Integer(), server_default="0", nullable=False),
        sa.Column("events", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "window_start", name=op.f("pk_rate_windows")),
    )
    op.create_table(
        "workspaces",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("key_rotated_at", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("identity_resolution", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("identifiers", sa.Text(), nullable=False),
        sa.Column("limits", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_workspaces_key_hash")),
    )
    op.create_table(
        "batches",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("element_count", sa.Integer(), nullable=False),
        sa.Column("accepted_at", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=False),
        sa.Column("lease_owner", sa.String(length=80), nullable=True),
        sa.Column("lease_expires_at", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("applied", sa.Integer(), server_default="0", nullable=False),
        sa.Column("skipped", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("forwarded_for", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_batches_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_batches")),
        sa.UniqueConstraint("id", name=op.f("uq_batches_id")),
        sa.UniqueConstraint(
            "workspace_id", "idempotency_key", name=op.f("uq_batches_workspace_id_idempotency_key")
        ),
    )
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_batches_workspace_id_status_seq", ["workspace_id", "status", "seq"], unique=False
        )
        batch_op.create_index("ix_batches_workspace_id_seq", ["workspace_id", "seq"], unique=False)
        batch_op.create_index(
            "ix_batches_queue",
            ["seq"],
            unique=False,
            sqlite_where=sa.text("status IN ('queued', 'processing')"),
            postgresql_where=sa.text("status IN ('queued', 'processing')"),
        )

    op.create_table(
        "customers",
        sa.Column(
            "uid",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("attribute_times", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("created_batch", sa.String(length=40), nullable=True),
        sa.Column("migrated", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("migrated_batch", sa.String(length=40), nullable=True),
        sa.Column("merged_into", sa.BigInteger(), nullable=True),
        sa.Column("merged_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_customers_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_customers")),
        sa.UniqueConstraint(
            "workspace_id", "customer_id", name=op.f("uq_customers_workspace_id_customer_id")
        ),
        sqlite_autoincrement=True,  # a uid is never reused, even after the newest is deleted
    )
    op.create_table(
        "batch_issues",
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("element_index", sa.Integer(), nullable=True),
        sa.Column("key", sa.Text(), nullable=True),
        sa.Column("field", sa.Text(), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_batch_issues_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("batch_id", "ordinal", name=op.f("pk_batch_issues")),
    )
    op.create_table(
        "customer_identifiers",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("value", sa.String(length=512), nullable=False),
        sa.Column("uid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["uid"], ["customers.uid"], name=op.f("fk_customer_identifiers_uid_customers")
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "name", "value", "uid", name=op.f("pk_customer_identifiers")
        ),
    )
    with op.batch_alter_table("customer_identifiers", schema=None) as batch_op:
        batch_op.create_index("ix_customer_identifiers_uid", ["uid"], unique=False)

    op.create_table(
        "devices",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=255), nullable=False),
        sa.Column("uid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("push_id", sa.Text(), nullable=False),
        sa.Column("push_opted_out", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["uid"], ["customers.uid"], name=op.f("fk_devices_uid_customers")),
        sa.PrimaryKeyConstraint("workspace_id", "device_id", name=op.f("pk_devices")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index("ix_devices_uid", ["uid"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index("ix_devices_uid")

    op.drop_table("devices")
    with op.batch_alter_table("customer_identifiers", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_identifiers_uid")

    op.drop_table("customer_identifiers")
    op.drop_table("batch_issues")
    op.drop_table("customers")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_index("ix_batches_workspace_id_seq")
        batch_op.drop_index("ix_batches_workspace_id_status_seq")
        batch_op.drop_index(
            "ix_batches_queue",
            sqlite_where=sa.text("status IN ('queued', 'processing')"),
            postgresql_where=sa.text("status IN ('queued', 'processing')"),
        )

    op.drop_table("batches")
    op.drop_table("workspaces")
    op.drop_table("rate_windows")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_uid_occurred_at")
        batch_op.drop_index(
            "ix_events_source_id",
            sqlite_where=sa.text("source_id IS NOT NULL"),
            postgresql_where=sa.text("source_id IS NOT NULL"),
        )

    op.drop_table("events")
