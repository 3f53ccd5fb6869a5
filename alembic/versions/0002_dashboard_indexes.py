"""dashboard indexes: workers by status, active runs, open recommendations

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_worker_status_name", "worker", ["status", "name"], unique=False)
    op.create_index(
        "ix_run_active",
        "run",
        ["id"],
        unique=False,
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    op.create_index(
        "ix_recommendation_open",
        "recommendation",
        ["detection_id"],
        unique=False,
        postgresql_include=["severity"],
        postgresql_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    op.drop_index("ix_recommendation_open", table_name="recommendation")
    op.drop_index("ix_run_active", table_name="run")
    op.drop_index("ix_worker_status_name", table_name="worker")
