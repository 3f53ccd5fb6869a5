-- name: turn
-- One maintainer per interval fleet-wide: the first worker to ask in this
-- transaction gets it, the others skip (a transaction-level lock: nothing
-- held across transactions, fine behind PgBouncer).
SELECT pg_try_advisory_xact_lock(%(key)s)

-- name: lock_timeout
-- Creating and dropping a partition needs strong locks on `event` for a
-- moment; rather than queue ingest and the passes behind a long pass read,
-- give up and try at the next interval.
SET LOCAL lock_timeout = '2s'

-- name: now
-- The database's clock (or the caller's pinned one) decides what is old.
SELECT coalesce(%(now)s::timestamptz, now())

-- name: partitions
-- `event`'s range partitions and their bounds, oldest first (the default
-- partition has no bounds and is left out).
SELECT c.relname, b[1]::timestamptz, b[2]::timestamptz
  FROM pg_inherits i
  JOIN pg_class c ON c.oid = i.inhrelid
 CROSS JOIN LATERAL regexp_match(
           pg_get_expr(c.relpartbound, c.oid),
           'FROM \(''([^'']*)''\) TO \(''([^'']*)''\)') AS b
 WHERE i.inhparent = 'event'::regclass AND b IS NOT NULL
 ORDER BY 2

-- name: default_cells
-- The grid intervals of what the default partition holds (events that came
-- before their partition existed, far ahead or older than the oldest
-- partition): each gets its partition, so retention can drop it in time.
SELECT DISTINCT %(epoch)s::timestamptz
       + %(width)s::interval
         * floor(extract(epoch FROM occurred_at - %(epoch)s::timestamptz)
                 / extract(epoch FROM %(width)s::interval))
  FROM event_default
 ORDER BY 1

-- name: lock_default
-- No ingest may put a row of the new range into the default partition
-- between the move below and the attach that checks it holds none.
LOCK TABLE event_default IN EXCLUSIVE MODE

-- name: create_table
-- A new partition starts as a table of its own, with the parent's columns
-- and defaults.
CREATE TABLE {name} (LIKE event INCLUDING DEFAULTS)

-- name: move_from_default
-- Events that arrived before their partition existed (an instant ahead of
-- the partitions) move into it with their ids and xact, in this transaction:
-- a pass sees them once, wherever they are.
WITH moved AS (
    DELETE FROM event_default
     WHERE occurred_at >= {lower} AND occurred_at < {upper}
    RETURNING id, source, stream, kind, occurred_at, received_at, external_id, payload, xact
)
INSERT INTO {name} (id, source, stream, kind, occurred_at, received_at, external_id, payload, xact)
SELECT * FROM moved

-- name: attach
-- Builds the partitioned indexes on it and checks its range.
ALTER TABLE event ATTACH PARTITION {name} FOR VALUES FROM ({lower}) TO ({upper})

-- name: forget_keys
-- Retention: the keys of a partition about to go (a DROP fires no trigger),
-- a batch at a time in id order (its primary key), so that a day of millions
-- of events is not one long transaction. The last id of the batch, NULL
-- when none is left.
WITH batch AS (
    SELECT id, source, external_id FROM {name}
     WHERE id > %(after)s ORDER BY id LIMIT %(limit)s
), gone AS (
    DELETE FROM event_key k USING batch b
     WHERE k.source = b.source AND k.external_id = b.external_id
)
SELECT max(id) FROM batch

-- name: drop
-- Retention: a whole partition at once, never a DELETE of events. Nothing
-- refers to an event by foreign key, so findings and evidence stay.
DROP TABLE {name}
