"""customer browsing: a workspace's customers listed in uid order, and by change time

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 17:40:00

``GET /v1/customers`` (no lookup) pages a workspace's customers by uid, and filters them by
the time they were created or last updated; the export streams them in uid order. Each of
those reads seeks one of these indexes instead of scanning every workspace's customers.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_customers_workspace_id_uid", "customers", ["workspace_id", "uid"])
    op.create_index(
        "ix_customers_workspace_id_updated_at", "customers", ["workspace_id", "updated_at"]
    )
    op.create_index(
        "ix_customers_workspace_id_created_at", "customers", ["workspace_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_customers_workspace_id_created_at", table_name="customers")
    op.drop_index("ix_customers_workspace_id_updated_at", table_name="customers")
    op.drop_index("ix_customers_workspace_id_uid", table_name="customers")
