"""stream.next_due_at: when a clock-driven rule must next be judged

Every tick planned a run for every enabled stream, so each idle stream added
an empty run per interval. A run is now planned only for a stream with new
events, one never looked at, or one whose clock-driven rules (silence) must be
judged: each pass writes the earliest time one of them could fire.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("stream", sa.Column("next_due_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("stream", "next_due_at")
