"""recommendation(status, severity, created): the dashboard's most severe first

The dashboard took the newest 200 open recommendations and sorted those by
severity, so older critical ones behind 200 newer warnings never showed. It
now asks for the open ones most severe first, and filters by severity in the
query; this index answers both without sorting or scanning every
recommendation.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_recommendation_status_severity",
        "recommendation",
        ["status", "severity", "created"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_recommendation_status_severity", table_name="recommendation")
