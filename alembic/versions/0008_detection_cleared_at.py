"""detection.cleared_at: a finding is active until its episode clears

A finding's state had only the person's side (open, acknowledged, dismissed):
nothing said whether the condition it reports was still there. The findings
store now writes, from the finding's episode evidence, when it first saw the
episode cleared, on the database clock (NULL while it is active), so the CLI
and the dashboard show the combined state: unacknowledged-active,
acknowledged-active, unacknowledged-cleared, done, dismissed. A finding with
no episode evidence (silence, condition) is momentary: cleared as written.
Detections already stored are backfilled the same way, cleared at the
migration's time when their episode evidence says cleared or they have none.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("detection", sa.Column("cleared_at", sa.DateTime(timezone=True)))
    op.execute(
        """
        UPDATE detection d SET cleared_at = now()
         WHERE NOT EXISTS (SELECT 1 FROM evidence e
                            WHERE e.detection_id = d.id AND e.kind = 'episode'
                              AND e.data->>'status' = 'open')
        """
    )


def downgrade() -> None:
    op.drop_column("detection", "cleared_at")
