"""finding_journal: every change of a finding's state, append-only

Acknowledging or dismissing a recommendation overwrote its status with no
record of who did it, when or why, and an episode's clearing left no trace of
its own. Each change is now a row: the time (the database clock), the actor
(`--by` or the OS user on the CLI, the dashboard's user, `system` for what a
pass writes), the state before and after (NULL before: opened) and the
person's comment. An audit record that can be edited is not one: a trigger
refuses every UPDATE and DELETE of a journal row (TRUNCATE, an
administrator's reset such as the demo's, is left alone). No foreign key to
the recommendation, so deleting a detection never has to delete its history.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

APPEND_ONLY_SQL = """
CREATE FUNCTION finding_journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'finding_journal is append-only: % of journal row % refused',
                    TG_OP, OLD.id
          USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER finding_journal_append_only
    BEFORE UPDATE OR DELETE ON finding_journal
    FOR EACH ROW EXECUTE FUNCTION finding_journal_append_only();
"""


def upgrade() -> None:
    op.create_table(
        "finding_journal",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("recommendation_id", sa.BigInteger, nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("from_state", sa.Text),
        sa.Column("to_state", sa.Text, nullable=False),
        sa.Column("comment", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_finding_journal"),
    )
    op.create_index(
        "ix_finding_journal_recommendation", "finding_journal", ["recommendation_id", "id"]
    )
    op.execute(APPEND_ONLY_SQL)


def downgrade() -> None:
    op.execute("DROP TRIGGER finding_journal_append_only ON finding_journal")
    op.execute("DROP FUNCTION finding_journal_append_only()")
    op.drop_index("ix_finding_journal_recommendation", table_name="finding_journal")
    op.drop_table("finding_journal")
