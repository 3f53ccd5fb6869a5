"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


ENUMS = (
    "worker_type",
    "worker_role",
    "worker_status",
    "run_status",
    "severity",
    "recommendation_status",
)


def upgrade() -> None:
    # The fence: a token that grows at every claim, across all runs.
    op.execute(sa.schema.CreateSequence(sa.Sequence("run_fence_seq")))
    op.create_table('event',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('stream', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), server_default='event', nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('external_id', sa.Text(), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('xact', sa.BigInteger(), server_default=sa.text('(pg_current_xact_id()::text)::bigint'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event')),
    sa.UniqueConstraint('source', 'external_id', name=op.f('uq_event_source_external_id'))
    )
    op.create_index('ix_event_stream_xact', 'event', ['stream', 'xact', 'id'], unique=False)
    op.create_table('rule_pack',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('digest', sa.Text(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('documents', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('rule_count', sa.Integer(), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_pack')),
    sa.UniqueConstraint('digest', name=op.f('uq_rule_pack_digest'))
    )
    op.create_table('stream',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('cursor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('cursor_xid', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('required_capabilities', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_pass_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stream')),
    sa.UniqueConstraint('key', name=op.f('uq_stream_key'))
    )
    op.create_table('worker',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('worker_type', sa.Enum('local', 'remote', 'container', name='worker_type'), server_default='local', nullable=False),
    sa.Column('worker_role', sa.Enum('sentinel', 'scheduler', 'hybrid', name='worker_role'), server_default='hybrid', nullable=False),
    sa.Column('runtime', sa.Text(), nullable=True),
    sa.Column('host', sa.Text(), nullable=True),
    sa.Column('port', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('active', 'draining', 'inactive', name='worker_status'), server_default='active', nullable=False),
    sa.Column('capabilities', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('meta', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('last_heartbeat', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_worker')),
    sa.UniqueConstraint('name', name=op.f('uq_worker_name'))
    )
    op.create_index('ix_worker_capabilities', 'worker', ['capabilities'], unique=False, postgresql_using='gin')
    op.create_index('ix_worker_live_heartbeat', 'worker', ['status', 'last_heartbeat'], unique=False)
    op.create_table('rule_state',
    sa.Column('stream_id', sa.BigInteger(), nullable=False),
    sa.Column('rule_ref', sa.Text(), nullable=False),
    sa.Column('state', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['stream_id'], ['stream.id'], name=op.f('fk_rule_state_stream_id_stream'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('stream_id', 'rule_ref', name=op.f('pk_rule_state'))
    )
    op.create_table('run',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('stream_id', sa.BigInteger(), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('queued', 'running', 'succeeded', 'failed', 'dead', name='run_status'), server_default='queued', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('max_attempts', sa.Integer(), server_default='5', nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('lease_owner', sa.BigInteger(), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fence', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('first_event_id', sa.BigInteger(), nullable=True),
    sa.Column('last_event_id', sa.BigInteger(), nullable=True),
    sa.Column('event_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('detection_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('evidence_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('recommendation_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('problems', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('recovered', sa.Integer(), server_default='0', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['lease_owner'], ['worker.id'], name=op.f('fk_run_lease_owner_worker'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['stream_id'], ['stream.id'], name=op.f('fk_run_stream_id_stream'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_run')),
    sa.UniqueConstraint('stream_id', 'window_start', name=op.f('uq_run_stream_id_window_start'))
    )
    op.create_index('ix_run_claim', 'run', ['window_start', 'id'], unique=False, postgresql_where=sa.text("status = 'queued'"))
    op.create_index('ix_run_finished', 'run', ['finished_at'], unique=False, postgresql_where=sa.text('finished_at IS NOT NULL'))
    op.create_index('ix_run_lease', 'run', ['lease_owner', 'lease_expires_at'], unique=False, postgresql_where=sa.text("status = 'running'"))
    op.create_index('ix_run_failing', 'run', ['status', 'id'], unique=False, postgresql_where=sa.text("status IN ('dead', 'failed')"))
    op.create_index('ix_run_stream_created', 'run', ['stream_id', 'id'], unique=False)
    op.create_index('uq_run_stream_active', 'run', ['stream_id'], unique=True, postgresql_where=sa.text("status IN ('queued', 'running')"))
    op.create_table('detection',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('run_id', sa.BigInteger(), nullable=True),
    sa.Column('rule_ref', sa.Text(), nullable=False),
    sa.Column('stream', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('severity', sa.Enum('info', 'warning', 'critical', name='severity'), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.Text(), nullable=False),
    sa.Column('anchor_event_id', sa.BigInteger(), nullable=True),
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], name=op.f('fk_detection_run_id_run'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_detection')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_detection_fingerprint'))
    )
    op.create_index('ix_detection_run', 'detection', ['run_id'], unique=False)
    op.create_index('ix_detection_stream', 'detection', ['stream', 'id'], unique=False)
    op.create_table('evidence',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('detection_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=True),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.ForeignKeyConstraint(['detection_id'], ['detection.id'], name=op.f('fk_evidence_detection_id_detection'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence'))
    )
    op.create_index('ix_evidence_detection', 'evidence', ['detection_id'], unique=False)
    op.create_table('recommendation',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('detection_id', sa.BigInteger(), nullable=False),
    sa.Column('severity', sa.Enum('info', 'warning', 'critical', name='severity'), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('open', 'acknowledged', 'dismissed', name='recommendation_status'), server_default='open', nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['detection_id'], ['detection.id'], name=op.f('fk_recommendation_detection_id_detection'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recommendation')),
    sa.UniqueConstraint('detection_id', name=op.f('uq_recommendation_detection_id'))
    )
    op.create_index('ix_recommendation_status', 'recommendation', ['status', 'created'], unique=False)
    op.create_index('ix_recommendation_reviewed', 'recommendation', ['status', 'updated'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_recommendation_reviewed', table_name='recommendation')
    op.drop_index('ix_recommendation_status', table_name='recommendation')
    op.drop_table('recommendation')
    op.drop_index('ix_evidence_detection', table_name='evidence')
    op.drop_table('evidence')
    op.drop_index('ix_detection_stream', table_name='detection')
    op.drop_index('ix_detection_run', table_name='detection')
    op.drop_table('detection')
    op.drop_index('uq_run_stream_active', table_name='run', postgresql_where=sa.text("status IN ('queued', 'running')"))
    op.drop_index('ix_run_stream_created', table_name='run')
    op.drop_index('ix_run_failing', table_name='run', postgresql_where=sa.text("status IN ('dead', 'failed')"))
    op.drop_index('ix_run_lease', table_name='run', postgresql_where=sa.text("status = 'running'"))
    op.drop_index('ix_run_finished', table_name='run', postgresql_where=sa.text('finished_at IS NOT NULL'))
    op.drop_index('ix_run_claim', table_name='run', postgresql_where=sa.text("status = 'queued'"))
    op.drop_table('run')
    op.drop_table('rule_state')
    op.drop_index('ix_worker_live_heartbeat', table_name='worker')
    op.drop_index('ix_worker_capabilities', table_name='worker', postgresql_using='gin')
    op.drop_table('worker')
    op.drop_table('stream')
    op.drop_table('rule_pack')
    op.drop_index('ix_event_stream_xact', table_name='event')
    op.drop_table('event')
    op.execute(sa.schema.DropSequence(sa.Sequence("run_fence_seq")))
    for name in ENUMS:
        op.execute(sa.text(f"DROP TYPE IF EXISTS {name}"))
