-- name: create_staging
-- A session-private staging table: COPY fills it, one INSERT … SELECT moves
-- what is new into `event`. No WAL, no indexes, emptied at every commit.
CREATE TEMP TABLE IF NOT EXISTS sentinel_ingest_staging (
    source text NOT NULL,
    stream text NOT NULL,
    kind text NOT NULL,
    occurred_at timestamptz NOT NULL,
    external_id text NOT NULL,
    payload jsonb NOT NULL
) ON COMMIT DELETE ROWS

-- name: clear_staging
-- Within one long transaction (--strict) the rows of the previous batch.
TRUNCATE sentinel_ingest_staging

-- name: copy_staging
COPY sentinel_ingest_staging (source, stream, kind, occurred_at, external_id, payload)
FROM STDIN

-- name: copy_event
-- A batch of new events straight into the table (`id`, `received_at` and
-- `xact` are the columns' defaults, the database's). The unique
-- (source, external_id) index refuses the whole batch if any of it is stored.
COPY event (source, stream, kind, occurred_at, external_id, payload)
FROM STDIN

-- name: touch_streams
-- After `copy_event`: every stream of the batch got a new event. Created on
-- first sight; last_event_at moves forward, never back. Key order keeps
-- concurrent ingests from locking the same streams in opposite orders.
INSERT INTO stream (key, last_event_at)
SELECT key, now() FROM unnest(%(keys)s::text[]) AS key ORDER BY key
ON CONFLICT (key) DO UPDATE
SET last_event_at = greatest(stream.last_event_at, excluded.last_event_at)

-- name: create_streams
-- Streams come into being on first sight; key order keeps concurrent
-- ingests from locking the same new keys in opposite orders.
INSERT INTO stream (key)
SELECT DISTINCT stream FROM sentinel_ingest_staging ORDER BY 1
ON CONFLICT (key) DO NOTHING

-- name: insert_events
-- Stores what is new (in input order; `xact` and `received_at` are the
-- database's), skips what (source, external_id) says is already stored, and
-- moves each touched stream's last_event_at forward, never back. Returns how
-- many rows were stored.
WITH inserted AS (
    INSERT INTO event (source, stream, kind, occurred_at, external_id, payload)
    SELECT source, stream, kind, occurred_at, external_id, payload
    FROM sentinel_ingest_staging
    ON CONFLICT (source, external_id) DO NOTHING
    RETURNING stream
), touched AS (
    UPDATE stream
    SET last_event_at = greatest(stream.last_event_at, now())
    WHERE stream.key IN (SELECT DISTINCT stream FROM inserted)
)
SELECT count(*) FROM inserted
