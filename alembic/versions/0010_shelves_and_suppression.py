"""shelf, recommendation.shelf_id and .suppressed_by: shelving and suppression

An operator could do nothing about a known condition but dismiss each of its
findings. A shelf (ISA-18.2 shelving, Alertmanager's silences) matches
streams, rules and a severity until it expires on the database clock: the
findings written meanwhile are stored as ever (nothing is lost) but marked
with the shelf, not counted as open and never notified. A rule that
`suppresses:` others marks their findings with the suppressing detection
while its own finding is active (a silent stream's value rules, a line stop's
machine alarms).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    severity = postgresql.ENUM(name="severity", create_type=False)
    op.create_table(
        "shelf",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("stream_glob", sa.Text, nullable=False),
        sa.Column("rule_glob", sa.Text),
        sa.Column("severity", severity),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("ended_by", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_shelf"),
    )
    op.create_index(
        "ix_shelf_live", "shelf", ["expires_at"], postgresql_where=sa.text("ended_at IS NULL")
    )
    op.add_column("recommendation", sa.Column("shelf_id", sa.BigInteger))
    op.create_foreign_key(
        "fk_recommendation_shelf_id_shelf",
        "recommendation",
        "shelf",
        ["shelf_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.add_column("recommendation", sa.Column("suppressed_by", sa.BigInteger))
    op.create_foreign_key(
        "fk_recommendation_suppressed_by_detection",
        "recommendation",
        "detection",
        ["suppressed_by"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint(
        "fk_recommendation_suppressed_by_detection", "recommendation", type_="foreignkey"
    )
    op.drop_column("recommendation", "suppressed_by")
    op.drop_constraint("fk_recommendation_shelf_id_shelf", "recommendation", type_="foreignkey")
    op.drop_column("recommendation", "shelf_id")
    op.drop_index("ix_shelf_live", table_name="shelf")
    op.drop_table("shelf")
