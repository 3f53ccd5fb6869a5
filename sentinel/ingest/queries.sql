-- name: create_staging
-- A session-private staging table: COPY fills it, one INSERT … SELECT moves
-- what is new into `event`. No WAL, no indexes, emptied at every commit;
-- `n` keeps the input's order.
CREATE TEMP TABLE IF NOT EXISTS sentinel_ingest_staging (
    n bigint GENERATED ALWAYS AS IDENTITY,
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
-- `xact` are the columns' defaults, the database's). Their keys enter
-- `event_key` at the end of the COPY (its trigger), whose primary key on
-- (source, external_id) refuses the whole batch if any of it is stored.
COPY event (source, stream, kind, occurred_at, external_id, payload)
FROM STDIN

-- name: insert_events
-- From staging: stores what is new (the first of each key, in input order;
-- `xact` and `received_at` are the database's) and skips what `event_key`
-- says is already stored. Returns how many rows were stored, and their
-- streams. An ingest storing the same new key meanwhile makes this fail with
-- a unique violation once it commits (the caller tries the batch again).
WITH inserted AS (
    INSERT INTO event (source, stream, kind, occurred_at, external_id, payload)
    SELECT source, stream, kind, occurred_at, external_id, payload
    FROM (SELECT DISTINCT ON (source, external_id) *
            FROM sentinel_ingest_staging
           ORDER BY source, external_id, n) AS first
    WHERE NOT EXISTS (SELECT FROM event_key k
                       WHERE k.source = first.source AND k.external_id = first.external_id)
    ORDER BY n
    RETURNING stream
)
SELECT count(*), coalesce(array_agg(DISTINCT stream), '{}') FROM inserted

-- name: upsert_streams
-- After a batch's events (either way in): its streams come into being on
-- first sight, and those that got a new event move last_event_at forward,
-- never back. One statement in key order, after the events, on both paths:
-- concurrent ingests lock events and streams in the same order. Then those
-- streams are announced (%(announce)s: JSON arrays of their keys, built by
-- sentinel/db/announce.py) on %(channel)s: delivered at commit, identical
-- payloads of one transaction folded into one, so the workers plan them at
-- once instead of at the next tick.
WITH upserted AS (
    INSERT INTO stream (key, last_event_at)
    SELECT key, CASE WHEN key = ANY(%(touched)s::text[]) THEN now() END
    FROM unnest(%(keys)s::text[]) AS key
    ORDER BY key
    ON CONFLICT (key) DO UPDATE
    SET last_event_at = greatest(stream.last_event_at, excluded.last_event_at)
    WHERE excluded.last_event_at IS NOT NULL
)
SELECT count(pg_notify(%(channel)s, payload)) FROM unnest(%(announce)s::text[]) AS payload
