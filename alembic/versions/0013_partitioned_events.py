"""event partitioned by range of occurred_at, with retention

Issue 14. `event` grew forever; now it is partitioned by range of
`occurred_at`, one partition a day (`event_p20261202`) plus `event_default`
for an instant no partition covers, so that retention drops a day's partition
whole (sentinel/worker/partitions.py) instead of deleting rows.

Why `occurred_at` and not `received_at`: a partitioned table's unique keys
must contain the partition key. With `occurred_at` the idempotency key becomes
(source, external_id, occurred_at), still one index that ingest's COPY checks
at no extra cost: re-ingesting a file stores nothing twice (a derived external
id hashes the instant; a source's own id comes back with its own instant).
Partitioning by `received_at` would need a second, global key table written
for every event. The pass's cursor is a transaction id (`xact`), not a time,
so which partition an event lands in does not matter to it.

The copy: the old table is renamed, one partition is created per day its
rows cover (and for today and the next three), the rows are copied with their
ids and `xact` in one INSERT … SELECT before the indexes are built, and the
old table is dropped. Measured cost (docs/scaling.md): 7.6 s for 1 M rows,
20.5 s for 3 M, so about 70 s for 10 M, during which ingest and the passes
wait on the lock. The downgrade refuses (a unique violation) if the same
(source, external_id) was meanwhile stored with two instants. `evidence.event_id` and
the runs' event ids have no foreign key, so a dropped partition leaves the
findings whole.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

AHEAD_DAYS = 3

COLUMNS = "id, source, stream, kind, occurred_at, received_at, external_id, payload, xact"

CREATE_PARTITIONED = """
CREATE TABLE event (
    id bigint NOT NULL DEFAULT nextval('event_id_seq'::regclass),
    source text COLLATE "C" NOT NULL,
    stream text COLLATE "C" NOT NULL,
    kind text NOT NULL DEFAULT 'event',
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    external_id text COLLATE "C" NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}'::jsonb,
    xact bigint NOT NULL DEFAULT (pg_current_xact_id()::text)::bigint
) PARTITION BY RANGE (occurred_at)
"""

# One partition per UTC day the old rows cover, and today's and the next
# days': names and bounds as sentinel/worker/partitions.py makes them.
CREATE_DAILY_PARTITIONS = f"""
DO $$
DECLARE
    day timestamptz;
BEGIN
    FOR day IN
        SELECT DISTINCT date_trunc('day', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
        FROM event_unpartitioned
        UNION
        SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
               + make_interval(days => n)
        FROM generate_series(0, {AHEAD_DAYS}) AS n
    LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF event FOR VALUES FROM (%L) TO (%L)',
            'event_p' || to_char(day AT TIME ZONE 'UTC', 'YYYYMMDD'),
            day, day + interval '1 day');
    END LOOP;
END $$
"""


def _build_indexes() -> None:
    op.execute("ALTER TABLE event ADD CONSTRAINT pk_event PRIMARY KEY (id, occurred_at)")
    op.execute(
        "ALTER TABLE event ADD CONSTRAINT uq_event_source_external_id_occurred_at "
        "UNIQUE (source, external_id, occurred_at)"
    )
    op.execute("CREATE INDEX ix_event_stream_xact ON event (stream, xact, id)")


def upgrade() -> None:
    # Ingest and the passes wait here rather than write into the old table.
    op.execute("LOCK TABLE event IN EXCLUSIVE MODE")
    op.execute("ALTER TABLE event RENAME TO event_unpartitioned")
    op.execute("ALTER TABLE event_unpartitioned ALTER COLUMN id DROP IDENTITY")
    op.execute("CREATE SEQUENCE event_id_seq AS bigint")
    op.execute(CREATE_PARTITIONED)
    op.execute("ALTER SEQUENCE event_id_seq OWNED BY event.id")
    op.execute("CREATE TABLE event_default PARTITION OF event DEFAULT")
    op.execute(CREATE_DAILY_PARTITIONS)
    # Rows first, indexes after: one sorted build per partition instead of
    # an index insertion per row.
    op.execute(f"INSERT INTO event ({COLUMNS}) SELECT {COLUMNS} FROM event_unpartitioned")
    op.execute(
        "SELECT setval('event_id_seq', coalesce(max(id), 0) + 1, false) FROM event_unpartitioned"
    )
    op.execute("DROP TABLE event_unpartitioned")
    _build_indexes()


def downgrade() -> None:
    op.execute("LOCK TABLE event IN EXCLUSIVE MODE")
    op.execute("ALTER TABLE event RENAME TO event_partitioned")
    op.execute("ALTER SEQUENCE event_id_seq RENAME TO event_id_seq_partitioned")
    op.execute("ALTER TABLE event_partitioned RENAME CONSTRAINT pk_event TO pk_event_partitioned")
    op.execute("ALTER INDEX ix_event_stream_xact RENAME TO ix_event_stream_xact_partitioned")
    op.execute(
        "ALTER TABLE event_partitioned RENAME CONSTRAINT "
        "uq_event_source_external_id_occurred_at TO uq_event_partitioned"
    )
    op.execute(
        CREATE_PARTITIONED.replace(
            "bigint NOT NULL DEFAULT nextval('event_id_seq'::regclass)",
            "bigint GENERATED BY DEFAULT AS IDENTITY",
        ).replace(" PARTITION BY RANGE (occurred_at)", "")
    )
    op.execute(f"INSERT INTO event ({COLUMNS}) SELECT {COLUMNS} FROM event_partitioned")
    op.execute(
        "SELECT setval(pg_get_serial_sequence('event', 'id'), coalesce(max(id), 0) + 1, false) "
        "FROM event"
    )
    # Drops every partition and the sequence it owns.
    op.execute("DROP TABLE event_partitioned")
    op.execute("ALTER TABLE event ADD CONSTRAINT pk_event PRIMARY KEY (id)")
    op.execute(
        "ALTER TABLE event ADD CONSTRAINT uq_event_source_external_id UNIQUE (source, external_id)"
    )
    op.execute("CREATE INDEX ix_event_stream_xact ON event (stream, xact, id)")
