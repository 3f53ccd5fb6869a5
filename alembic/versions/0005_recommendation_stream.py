"""recommendation.stream: a stream's open recommendations on their own index

The dashboard counted a stream's open detections by walking every detection
the stream ever had; with the detection's stream copied onto its
recommendation, a partial index of open recommendations by stream answers
with what is open only. Existing rows are filled from their detections.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("recommendation", sa.Column("stream", sa.Text(collation="C")))
    op.execute(
        "UPDATE recommendation r SET stream = d.stream FROM detection d WHERE d.id = r.detection_id"
    )
    op.alter_column("recommendation", "stream", nullable=False)
    op.create_index(
        "ix_recommendation_open_stream",
        "recommendation",
        ["stream"],
        unique=False,
        postgresql_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    op.drop_index("ix_recommendation_open_stream", table_name="recommendation")
    op.drop_column("recommendation", "stream")
