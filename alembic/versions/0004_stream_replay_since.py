"""stream.replay_since: a replay rebuilds the rules' state from the first event

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("stream", sa.Column("replay_since", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("stream", "replay_since")
