"""The schema: the single source of truth. Alembic migrates the database to it."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from sentinel.types import (
    NotificationKind,
    NotificationStatus,
    RecommendationStatus,
    RunStatus,
    Severity,
    WorkerRole,
    WorkerStatus,
    WorkerType,
    values,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

WORKER_TYPES = values(WorkerType)
WORKER_ROLES = values(WorkerRole)
WORKER_STATUSES = values(WorkerStatus)
RUN_STATUSES = values(RunStatus)
SEVERITIES = values(Severity)
RECOMMENDATION_STATUSES = values(RecommendationStatus)
NOTIFICATION_STATUSES = values(NotificationStatus)
NOTIFICATION_KINDS = values(NotificationKind)

worker_type = sa.Enum(*WORKER_TYPES, name="worker_type", metadata=metadata)
worker_role = sa.Enum(*WORKER_ROLES, name="worker_role", metadata=metadata)
worker_status = sa.Enum(*WORKER_STATUSES, name="worker_status", metadata=metadata)
run_status = sa.Enum(*RUN_STATUSES, name="run_status", metadata=metadata)
severity = sa.Enum(*SEVERITIES, name="severity", metadata=metadata)
recommendation_status = sa.Enum(
    *RECOMMENDATION_STATUSES, name="recommendation_status", metadata=metadata
)
notification_status = sa.Enum(
    *NOTIFICATION_STATUSES, name="notification_status", metadata=metadata
)
notification_kind = sa.Enum(*NOTIFICATION_KINDS, name="notification_kind", metadata=metadata)

NOW = sa.text("now()")
EMPTY_OBJECT = sa.text("'{}'::jsonb")
EMPTY_LIST = sa.text("'[]'::jsonb")
# The inserting transaction's id. A pass reads only events of transactions that
# had all finished (below the snapshot's xmin), so a slow insert that commits
# late is never skipped by a cursor that already moved past its id.
CURRENT_XACT = sa.text("(pg_current_xact_id()::text)::bigint")


# Stream keys, event sources and external ids compare as bytes: each event
# enters indexes on them, and memcmp is much cheaper than the locale's rules.
# Columns joined with each other share it: every copy of a stream key sorts
# the same way (migration 0003).
KEY_TEXT = sa.Text(collation="C")


def _ts(name: str, **kw: object) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), **kw)  # type: ignore[arg-type]


worker = sa.Table(
    "worker",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("worker_type", worker_type, nullable=False, server_default="local"),
    sa.Column("worker_role", worker_role, nullable=False, server_default="hybrid"),
    sa.Column("runtime", sa.Text),
    sa.Column("host", sa.Text),
    sa.Column("port", sa.Integer),
    sa.Column("status", worker_status, nullable=False, server_default="active"),
    sa.Column("capabilities", JSONB, nullable=False, server_default=EMPTY_OBJECT),
    sa.Column("meta", JSONB, nullable=False, server_default=EMPTY_OBJECT),
    _ts("last_heartbeat"),
    _ts("created", nullable=False, server_default=NOW),
    _ts("updated", nullable=False, server_default=NOW),
    sa.Index("ix_worker_live_heartbeat", "status", "last_heartbeat"),
    sa.Index("ix_worker_capabilities", "capabilities", postgresql_using="gin"),
    # The dashboard's fleet view: live workers first, then by name, without
    # sorting every worker that ever registered.
    sa.Index("ix_worker_status_name", "status", "name"),
)

stream = sa.Table(
    "stream",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("key", KEY_TEXT, nullable=False, unique=True),
    # The last event id processed (for people), and the transaction high-water
    # mark that makes the cursor exact (for the pass).
    sa.Column("cursor", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("cursor_xid", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("required_capabilities", JSONB, nullable=False, server_default=EMPTY_OBJECT),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    _ts("last_event_at"),
    _ts("last_pass_at"),
    # The earliest time a clock-driven rule (silence) could fire with no new
    # event; written by each pass, read by the planner. NULL: none pending.
    _ts("next_due_at"),
    # Set by a replay: the stream is re-read from its first event (so the
    # rules' state comes out exactly as before) and findings detected before
    # this time are not written again. Cleared once the pass catches up.
    _ts("replay_since"),
    _ts("created", nullable=False, server_default=NOW),
)

# `event` is partitioned by range of occurred_at (migration 0013,
# docs/scaling.md): one partition per interval (`event_p20261202`, daily by
# default), created ahead and dropped whole after SENTINEL_EVENT_RETENTION_DAYS
# by the workers' maintenance (sentinel/worker/partitions.py), and
# `event_default` for an instant no partition covers. A partitioned table's
# unique indexes must hold the partition key, so the contract's key,
# (source, external_id), is `event_key`'s primary key, kept by statement
# triggers on `event` (the migration's): every write of events writes their
# keys in the same statement, and a duplicate fails it. Its id comes from a
# sequence (an identity column on a partitioned table needs Postgres 17).
EVENT_ID_SEQUENCE = sa.Sequence("event_id_seq", metadata=metadata)
EVENT_DEFAULT_PARTITION = "event_default"
# The partitions' names, which alembic's comparison leaves out (alembic/env.py):
# they are the maintenance's, not the schema's.
EVENT_PARTITION_NAME = re.compile(r"event_(default|p\d{8}(_\d{4})?)")

event = sa.Table(
    "event",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger,
        nullable=False,
        autoincrement=False,
        server_default=sa.text("nextval('event_id_seq'::regclass)"),
    ),
    sa.Column("source", KEY_TEXT, nullable=False),
    sa.Column("stream", KEY_TEXT, nullable=False),
    sa.Column("kind", sa.Text, nullable=False, server_default="event"),
    _ts("occurred_at", nullable=False),
    _ts("received_at", nullable=False, server_default=NOW),
    sa.Column("external_id", KEY_TEXT, nullable=False),
    sa.Column("payload", JSONB, nullable=False, server_default=EMPTY_OBJECT),
    sa.Column("xact", sa.BigInteger, nullable=False, server_default=CURRENT_XACT),
    sa.PrimaryKeyConstraint("id", "occurred_at"),
    sa.Index("ix_event_stream_xact", "stream", "xact", "id"),
    postgresql_partition_by="RANGE (occurred_at)",
)

# A row per stream per statement that wrote events to it (event's insert
# trigger, migration 0013), insert-only and pruned below the stream's cursor
# by the maintenance: the planner's due test (events past the cursor) is one
# probe here, not one per partition of `event`.
stream_activity = sa.Table(
    "stream_activity",
    metadata,
    sa.Column("stream", KEY_TEXT, nullable=False),
    sa.Column("xact", sa.BigInteger, nullable=False),
    sa.Index("ix_stream_activity_stream_xact", "stream", "xact"),
)

event_key = sa.Table(
    "event_key",
    metadata,
    sa.Column("source", KEY_TEXT, nullable=False),
    sa.Column("external_id", KEY_TEXT, nullable=False),
    sa.PrimaryKeyConstraint("source", "external_id"),
)

rule_pack = sa.Table(
    "rule_pack",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("digest", sa.Text, nullable=False, unique=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("documents", JSONB, nullable=False),
    sa.Column("rule_count", sa.Integer, nullable=False),
    _ts("loaded_at", nullable=False, server_default=NOW),
)

run = sa.Table(
    "run",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column(
        "stream_id", sa.BigInteger, sa.ForeignKey("stream.id", ondelete="CASCADE"), nullable=False
    ),
    _ts("window_start", nullable=False),
    sa.Column("status", run_status, nullable=False, server_default="queued"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False, server_default="5"),
    _ts("not_before", nullable=False, server_default=NOW),
    sa.Column("lease_owner", sa.BigInteger, sa.ForeignKey("worker.id", ondelete="SET NULL")),
    _ts("lease_expires_at"),
    sa.Column("fence", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("first_event_id", sa.BigInteger),
    sa.Column("last_event_id", sa.BigInteger),
    sa.Column("event_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("detection_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("evidence_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("recommendation_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("problems", JSONB, nullable=False, server_default=EMPTY_LIST),
    sa.Column("recovered", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text),
    _ts("created", nullable=False, server_default=NOW),
    _ts("started_at"),
    _ts("finished_at"),
    sa.UniqueConstraint("stream_id", "window_start"),
    # At most one queued-or-running run per stream: a slow fleet coalesces.
    sa.Index(
        "uq_run_stream_active",
        "stream_id",
        unique=True,
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    ),
    # The claim: queued runs, oldest window first.
    sa.Index(
        "ix_run_claim",
        "window_start",
        "id",
        postgresql_where=sa.text("status = 'queued'"),
    ),
    sa.Index(
        "ix_run_lease",
        "lease_owner",
        "lease_expires_at",
        postgresql_where=sa.text("status = 'running'"),
    ),
    sa.Index("ix_run_finished", "finished_at", postgresql_where=sa.text("finished_at IS NOT NULL")),
    sa.Index("ix_run_stream_created", "stream_id", "id"),
    sa.Index(
        "ix_run_failing", "status", "id", postgresql_where=sa.text("status IN ('dead', 'failed')")
    ),
    # The dashboard's active runs, newest first, without walking the history.
    sa.Index("ix_run_active", "id", postgresql_where=sa.text("status IN ('queued', 'running')")),
)

run_fence = sa.Sequence("run_fence_seq", metadata=metadata)

rule_state = sa.Table(
    "rule_state",
    metadata,
    sa.Column(
        "stream_id",
        sa.BigInteger,
        sa.ForeignKey("stream.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("rule_ref", sa.Text, primary_key=True),
    sa.Column("state", JSONB, nullable=False),
    _ts("updated", nullable=False, server_default=NOW),
)

detection = sa.Table(
    "detection",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("run_id", sa.BigInteger, sa.ForeignKey("run.id", ondelete="SET NULL")),
    sa.Column("rule_ref", sa.Text, nullable=False),
    sa.Column("stream", KEY_TEXT, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("severity", severity, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("fingerprint", sa.Text, nullable=False, unique=True),
    sa.Column("anchor_event_id", sa.BigInteger),
    _ts("first_seen", nullable=False),
    _ts("last_seen", nullable=False),
    # When the store first saw the episode cleared (the database clock); NULL
    # while it is active. A finding without an episode is momentary: cleared
    # as it is written.
    _ts("cleared_at"),
    _ts("created", nullable=False, server_default=NOW),
    sa.Index("ix_detection_stream", "stream", "id"),
    sa.Index("ix_detection_run", "run_id"),
)

evidence = sa.Table(
    "evidence",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column(
        "detection_id",
        sa.BigInteger,
        sa.ForeignKey("detection.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("event_id", sa.BigInteger),
    sa.Column("data", JSONB, nullable=False, server_default=EMPTY_OBJECT),
    sa.Index("ix_evidence_detection", "detection_id"),
)

recommendation = sa.Table(
    "recommendation",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column(
        "detection_id",
        sa.BigInteger,
        sa.ForeignKey("detection.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    # The detection's stream, copied so that a stream's open recommendations
    # are counted on an index of what is open, not on its detection history.
    sa.Column("stream", KEY_TEXT, nullable=False),
    sa.Column("severity", severity, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("status", recommendation_status, nullable=False, server_default="open"),
    # Written while a shelf matched: not counted as open, never notified; NULL
    # again once the shelf ended while the finding was still active.
    sa.Column("shelf_id", sa.BigInteger, sa.ForeignKey("shelf.id", ondelete="SET NULL")),
    # The active finding of a rule that `suppresses:` this one when it was written.
    sa.Column(
        "suppressed_by", sa.BigInteger, sa.ForeignKey("detection.id", ondelete="SET NULL")
    ),
    _ts("created", nullable=False, server_default=NOW),
    _ts("updated", nullable=False, server_default=NOW),
    sa.Index("ix_recommendation_status", "status", "created"),
    sa.Index("ix_recommendation_reviewed", "status", "updated"),
    # The dashboard's recommendations, most severe first, and filtered by severity.
    sa.Index("ix_recommendation_status_severity", "status", "severity", "created"),
    # The dashboard's open recommendations: by severity (header) and by
    # detection, index-only; and per stream (the streams view).
    sa.Index(
        "ix_recommendation_open",
        "detection_id",
        postgresql_include=["severity"],
        postgresql_where=sa.text("status = 'open'"),
    ),
    sa.Index(
        "ix_recommendation_open_stream",
        "stream",
        postgresql_where=sa.text("status = 'open'"),
    ),
)

# Shelving (ISA-18.2; Alertmanager's silences): while a shelf is live (not
# ended, expires_at in the future on the database clock), new findings that
# match it are written shelved. NULL rule_glob / severity match everything.
shelf = sa.Table(
    "shelf",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("stream_glob", sa.Text, nullable=False),
    sa.Column("rule_glob", sa.Text),
    sa.Column("severity", severity),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    _ts("created", nullable=False, server_default=NOW),
    _ts("expires_at", nullable=False),
    # When it ended (unshelved, or its expiry processed) and by whom.
    _ts("ended_at"),
    sa.Column("ended_by", sa.Text),
    sa.Index("ix_shelf_live", "expires_at", postgresql_where=sa.text("ended_at IS NULL")),
)

# HTTP API bearer tokens: only the SHA-256 of the token is stored; revoked
# tokens stay (revoked_at) for the audit trail, so a name is unique among the
# unrevoked ones only.
api_token = sa.Table(
    "api_token",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("token_hash", sa.Text, nullable=False, unique=True),
    sa.Column("scopes", JSONB, nullable=False, server_default=EMPTY_LIST),
    _ts("created", nullable=False, server_default=NOW),
    _ts("last_used_at"),
    _ts("revoked_at"),
    sa.Index(
        "ix_api_token_name_live",
        "name",
        unique=True,
        postgresql_where=sa.text("revoked_at IS NULL"),
    ),
)

# Every change of a finding's state, by a person (acknowledge, dismiss) or by
# the system (opened, cleared): append-only, enforced in the database (a
# trigger refuses UPDATE and DELETE: migration 0009, APPEND_ONLY_SQL). No
# foreign key: the record outlives what it records.
finding_journal = sa.Table(
    "finding_journal",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("recommendation_id", sa.BigInteger, nullable=False),
    _ts("at", nullable=False, server_default=NOW),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("from_state", sa.Text),  # NULL: the finding was opened
    sa.Column("to_state", sa.Text, nullable=False),
    sa.Column("comment", sa.Text),
    sa.Index("ix_finding_journal_recommendation", "recommendation_id", "id"),
)

# The notification outbox (sentinel/notify/): written in the pass's fenced
# transaction with the finding it tells of, delivered by any worker with a
# lease like a run's. The idempotency key (finding, route, channel, kind and
# repeat number) makes a retried or racing pass write each one once, and is
# sent along so that a receiver can drop a redelivery.
notification = sa.Table(
    "notification",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column(
        "detection_id",
        sa.BigInteger,
        sa.ForeignKey("detection.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "recommendation_id",
        sa.BigInteger,
        sa.ForeignKey("recommendation.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("route", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("kind", notification_kind, nullable=False),
    sa.Column("idempotency_key", sa.Text, nullable=False, unique=True),
    # Notifications of one group (route, channel and the route's group_by
    # values) that are due together go out as one message.
    sa.Column("group_key", sa.Text, nullable=False),
    # The key of the message it went out in, fixed at its first claim, so a
    # redelivery sends the same message under the same key.
    sa.Column("batch_key", sa.Text),
    sa.Column("status", notification_status, nullable=False, server_default="queued"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False, server_default="8"),
    _ts("not_before", nullable=False, server_default=NOW),
    sa.Column("lease_owner", sa.BigInteger, sa.ForeignKey("worker.id", ondelete="SET NULL")),
    _ts("lease_expires_at"),
    sa.Column("last_error", sa.Text),
    sa.Column("payload", JSONB, nullable=False, server_default=EMPTY_OBJECT),
    _ts("created", nullable=False, server_default=NOW),
    _ts("sent_at"),
    # The delivery claim: what is due, oldest first.
    sa.Index(
        "ix_notification_due",
        "not_before",
        "id",
        postgresql_where=sa.text("status IN ('queued', 'failed')"),
    ),
    sa.Index(
        "ix_notification_lease",
        "lease_expires_at",
        postgresql_where=sa.text("status = 'sending'"),
    ),
    sa.Index("ix_notification_detection", "detection_id", "route", "channel"),
    sa.Index("ix_notification_status", "status", "id"),
)

# One signed (DSSE) record per completed run, written in its completing
# transaction. No foreign key: the record outlives the run (retention).
completion = sa.Table(
    "completion",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("run_id", sa.BigInteger, nullable=False, unique=True),
    sa.Column("stream", KEY_TEXT, nullable=False),
    sa.Column("fence", sa.BigInteger, nullable=False),
    sa.Column("envelope", JSONB, nullable=False),
    sa.Column("signed", sa.Boolean, nullable=False),
    sa.Column("key_id", sa.Text),
    _ts("created", nullable=False, server_default=NOW),
    sa.Index("ix_completion_created", "created"),
)
