"""notification (the outbox) and completion (signed run-completion records)

Issue 17. `notification` holds what a finding must tell each routed channel,
written in the pass's fenced transaction and delivered by any worker under a
lease (queued → sending → sent, or failed and retried, or dead); its unique
idempotency key makes a retried or racing pass write each one once.
`completion` keeps one DSSE envelope per completed run, written in the run's
completing transaction; it has no foreign key so that it outlives the run.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ENUM, JSONB

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

STATUSES = ("queued", "sending", "sent", "failed", "dead", "skipped")
KINDS = ("firing", "repeat", "resolved")


def _ts(name: str, **kw: object) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), **kw)  # type: ignore[arg-type]


def upgrade() -> None:
    status = ENUM(*STATUSES, name="notification_status", create_type=False)
    kind = ENUM(*KINDS, name="notification_kind", create_type=False)
    status.create(op.get_bind(), checkfirst=False)
    kind.create(op.get_bind(), checkfirst=False)
    op.create_table(
        "notification",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("detection_id", sa.BigInteger, nullable=False),
        sa.Column("recommendation_id", sa.BigInteger, nullable=False),
        sa.Column("route", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("kind", kind, nullable=False),
        sa.Column("idempotency_key", sa.Text, nullable=False),
        sa.Column("group_key", sa.Text, nullable=False),
        sa.Column("batch_key", sa.Text),
        sa.Column("status", status, nullable=False, server_default="queued"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("max_attempts", sa.Integer, nullable=False, server_default="8"),
        _ts("not_before", nullable=False, server_default=sa.text("now()")),
        sa.Column("lease_owner", sa.BigInteger),
        _ts("lease_expires_at"),
        sa.Column("last_error", sa.Text),
        sa.Column("payload", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        _ts("created", nullable=False, server_default=sa.text("now()")),
        _ts("sent_at"),
        sa.PrimaryKeyConstraint("id", name="pk_notification"),
        sa.UniqueConstraint("idempotency_key", name="uq_notification_idempotency_key"),
        sa.ForeignKeyConstraint(
            ["detection_id"],
            ["detection.id"],
            name="fk_notification_detection_id_detection",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recommendation_id"],
            ["recommendation.id"],
            name="fk_notification_recommendation_id_recommendation",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lease_owner"],
            ["worker.id"],
            name="fk_notification_lease_owner_worker",
            ondelete="SET NULL",
        ),
    )
    op.create_index(
        "ix_notification_due",
        "notification",
        ["not_before", "id"],
        postgresql_where=sa.text("status IN ('queued', 'failed')"),
    )
    op.create_index(
        "ix_notification_lease",
        "notification",
        ["lease_expires_at"],
        postgresql_where=sa.text("status = 'sending'"),
    )
    op.create_index(
        "ix_notification_detection", "notification", ["detection_id", "route", "channel"]
    )
    op.create_index("ix_notification_status", "notification", ["status", "id"])

    op.create_table(
        "completion",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("run_id", sa.BigInteger, nullable=False),
        sa.Column("stream", sa.Text(collation="C"), nullable=False),
        sa.Column("fence", sa.BigInteger, nullable=False),
        sa.Column("envelope", JSONB, nullable=False),
        sa.Column("signed", sa.Boolean, nullable=False),
        sa.Column("key_id", sa.Text),
        _ts("created", nullable=False, server_default=sa.text("now()")),
        sa.PrimaryKeyConstraint("id", name="pk_completion"),
        sa.UniqueConstraint("run_id", name="uq_completion_run_id"),
    )
    op.create_index("ix_completion_created", "completion", ["created"])


def downgrade() -> None:
    op.drop_index("ix_completion_created", table_name="completion")
    op.drop_table("completion")
    op.drop_index("ix_notification_status", table_name="notification")
    op.drop_index("ix_notification_detection", table_name="notification")
    op.drop_index("ix_notification_lease", table_name="notification")
    op.drop_index("ix_notification_due", table_name="notification")
    op.drop_table("notification")
    sa.Enum(name="notification_kind").drop(op.get_bind(), checkfirst=False)
    sa.Enum(name="notification_status").drop(op.get_bind(), checkfirst=False)
