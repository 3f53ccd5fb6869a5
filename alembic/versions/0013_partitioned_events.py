"""event partitioned by range of occurred_at, with retention; its key in event_key;
stream_activity

Issue 14. `event` grew forever; now it is partitioned by range of
`occurred_at`, one partition a day (`event_p20261202`) plus `event_default`
for an instant no partition covers, so that retention drops a day's partition
whole (sentinel/worker/partitions.py) instead of deleting rows.

The contract's key stays (source, external_id), unique across every
partition. A partitioned table's unique indexes must hold the partition key,
so the key lives in `event_key`, a plain table with (source, external_id) as
its primary key, kept by statement triggers on `event` itself: whatever
writes events (ingest's COPY, its staging INSERT, a person's SQL), their keys
enter `event_key` in the same statement, and a key stored already fails it
with a unique violation, as the old index did. A DELETE or TRUNCATE of events
takes their keys with them; retention deletes a dropped partition's keys.
`occurred_at` is the partition key (not `received_at`): an event sent again
comes back to the partition it was stored in.

The insert trigger also notes which streams each writing statement touched,
in which transaction (`stream_activity`), so that the planner tells a stream
with new events by one probe of that small table instead of a probe of
`event` per partition (with 40 partitions and 10,000 streams, a sweep took
1.0 s instead of 0.05 s).

The copy: the old table is renamed, one partition is created per day its
rows cover (and for today and the next three), the rows are copied with their
ids and `xact` in one INSERT … SELECT before the indexes are built, their
keys copied into event_key, and the old table dropped. Cost (docs/scaling.md):
8 to 12 s per million rows, during which ingest and the passes wait on the
lock. `evidence.event_id` and the runs' event ids have no foreign key, so a
dropped partition leaves the findings whole.

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

# Which streams got events in which transaction: a row per stream per
# writing statement, insert-only (no lock on anything another writer needs),
# pruned below each stream's cursor by the workers' maintenance. The
# planner's due test probes it once per stream, where a probe of `event`
# costs one per partition.
CREATE_ACTIVITY_TABLE = """
CREATE TABLE stream_activity (
    stream text COLLATE "C" NOT NULL,
    xact bigint NOT NULL
);
CREATE INDEX ix_stream_activity_stream_xact ON stream_activity (stream, xact);
INSERT INTO stream_activity (stream, xact)
SELECT e.stream, max(e.xact) FROM event e
 WHERE NOT EXISTS (SELECT 1 FROM stream s WHERE s.key = e.stream AND s.cursor_xid > e.xact)
 GROUP BY e.stream;
"""

CREATE_KEY_TABLE = """
CREATE TABLE event_key (
    source text COLLATE "C" NOT NULL,
    external_id text COLLATE "C" NOT NULL
)
"""

# Statement triggers with transition tables: one INSERT of all of a COPY's
# keys at its end (a row trigger would cost a call per event). A duplicate
# fails the writing statement with unique_violation on pk_event_key. The
# same trigger notes, per stream, the transaction that wrote (stream_activity).
KEY_TRIGGERS = """
CREATE FUNCTION event_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_key (source, external_id) SELECT source, external_id FROM new_events;
    INSERT INTO stream_activity (stream, xact)
    SELECT stream, max(xact) FROM new_events GROUP BY stream;
    RETURN NULL;
END $$;
CREATE TRIGGER event_inserted AFTER INSERT ON event
    REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION event_inserted();

CREATE FUNCTION event_key_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM event_key k USING old_events o
     WHERE k.source = o.source AND k.external_id = o.external_id;
    RETURN NULL;
END $$;
CREATE TRIGGER event_key_delete AFTER DELETE ON event
    REFERENCING OLD TABLE AS old_events FOR EACH STATEMENT EXECUTE FUNCTION event_key_delete();

CREATE FUNCTION event_key_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE event_key, stream_activity;
    RETURN NULL;
END $$;
CREATE TRIGGER event_key_truncate AFTER TRUNCATE ON event
    FOR EACH STATEMENT EXECUTE FUNCTION event_key_truncate();

-- The key is what an event is: it does not change.
CREATE FUNCTION event_key_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'an event''s source and external_id cannot change'
        USING ERRCODE = 'feature_not_supported';
END $$;
CREATE TRIGGER event_key_fixed BEFORE UPDATE OF source, external_id ON event
    FOR EACH ROW WHEN (OLD.source IS DISTINCT FROM NEW.source
                       OR OLD.external_id IS DISTINCT FROM NEW.external_id)
    EXECUTE FUNCTION event_key_fixed();
"""

DROP_KEY_TRIGGERS = """
DROP TRIGGER event_inserted ON event;
DROP TRIGGER event_key_delete ON event;
DROP TRIGGER event_key_truncate ON event;
DROP TRIGGER event_key_fixed ON event;
DROP FUNCTION event_inserted(), event_key_delete(), event_key_truncate(), event_key_fixed();
"""


def _build_indexes() -> None:
    op.execute("ALTER TABLE event ADD CONSTRAINT pk_event PRIMARY KEY (id, occurred_at)")
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
    # Rows first, indexes and triggers after: one sorted build per index
    # instead of an insertion per row.
    op.execute(f"INSERT INTO event ({COLUMNS}) SELECT {COLUMNS} FROM event_unpartitioned")
    op.execute(
        "SELECT setval('event_id_seq', coalesce(max(id), 0) + 1, false) FROM event_unpartitioned"
    )
    op.execute(CREATE_KEY_TABLE)
    op.execute("INSERT INTO event_key SELECT source, external_id FROM event_unpartitioned")
    op.execute("ALTER TABLE event_key ADD CONSTRAINT pk_event_key PRIMARY KEY (source, external_id)")
    op.execute("DROP TABLE event_unpartitioned")
    _build_indexes()
    op.execute(CREATE_ACTIVITY_TABLE)
    op.execute(KEY_TRIGGERS)


def downgrade() -> None:
    op.execute("LOCK TABLE event IN EXCLUSIVE MODE")
    op.execute(DROP_KEY_TRIGGERS)
    op.execute("DROP TABLE event_key, stream_activity")
    op.execute("ALTER TABLE event RENAME TO event_partitioned")
    op.execute("ALTER SEQUENCE event_id_seq RENAME TO event_id_seq_partitioned")
    op.execute("ALTER TABLE event_partitioned RENAME CONSTRAINT pk_event TO pk_event_partitioned")
    op.execute("ALTER INDEX ix_event_stream_xact RENAME TO ix_event_stream_xact_partitioned")
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
