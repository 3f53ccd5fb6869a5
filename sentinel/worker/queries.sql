-- name: plan
-- Insert the run of every enabled stream that is due, for the current tick
-- (aligned to the run interval on the database clock). Due: it has events past
-- its cursor (one probe of stream_activity), no pass has looked at it
-- yet, or a clock-driven rule must be judged (next_due_at, written by the
-- last pass). An idle stream gets no run. Any number of schedulers may run
-- this at once: (stream_id, window_start) and the one-active-run-per-stream
-- index turn duplicates into no-ops.
WITH tick AS (
    SELECT CASE WHEN %(exact)s THEN clock.now
                ELSE to_timestamp(floor(extract(epoch FROM clock.now) / %(interval)s) * %(interval)s)
           END AS window_start, clock.now
      FROM (SELECT coalesce(%(now)s::timestamptz, now()) AS now) clock
), planned AS (
    INSERT INTO run (stream_id, window_start, max_attempts)
    SELECT s.id, tick.window_start, %(max_attempts)s
      FROM stream s CROSS JOIN tick
     WHERE s.enabled
       AND (%(stream_key)s::text IS NULL OR s.key = %(stream_key)s)
       AND (s.last_pass_at IS NULL
            OR s.next_due_at <= tick.now
            OR EXISTS (SELECT 1 FROM stream_activity a
                        WHERE a.stream = s.key AND a.xact >= s.cursor_xid))
    ON CONFLICT DO NOTHING
 RETURNING id
)
SELECT count(*) FROM planned

-- name: plan_streams
-- Event-driven planning: a run now, in a window of its own (the database's
-- now), for each stream of %(keys)s (every enabled stream when NULL: the
-- sweep) that is due: events past its cursor that a pass can read (below the
-- horizon, where every transaction has finished: one still open elsewhere
-- must not make a stream due over and over for nothing), never looked at,
-- or a clock-driven rule due since its last pass. At most one run per
-- %(gap)s seconds per stream, however many events arrive. Every due stream
-- not planned comes back with retry_in: the seconds until its gap ends, or
-- the gap when its run is running (its pass may have started before these
-- events); NULL when its run is still queued (that pass reads them anyway).
WITH clock AS (
    SELECT coalesce(%(now)s::timestamptz, now()) AS now,
           (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint AS horizon
), wanted AS (
    -- The keys through the unique index (an = ANY over hundreds of keys
    -- would compare each stream with each key), or every stream.
    SELECT s.id FROM unnest(%(keys)s::text[]) AS k JOIN stream s ON s.key = k
    UNION ALL
    SELECT s.id FROM stream s WHERE %(keys)s::text[] IS NULL
), due AS (
    SELECT s.id, s.key,
           (SELECT r.window_start FROM run r WHERE r.stream_id = s.id
             ORDER BY r.window_start DESC LIMIT 1) AS newest,
           (SELECT r.status::text FROM run r WHERE r.stream_id = s.id
               AND r.status IN ('queued', 'running')) AS active
      FROM wanted w JOIN stream s ON s.id = w.id CROSS JOIN clock
     WHERE s.enabled
       AND (s.last_pass_at IS NULL
            OR (s.next_due_at <= clock.now AND s.next_due_at > s.last_pass_at)
            OR EXISTS (SELECT 1 FROM stream_activity a
                        WHERE a.stream = s.key AND a.xact >= s.cursor_xid
                          AND a.xact < clock.horizon))
), planned AS (
    INSERT INTO run (stream_id, window_start, max_attempts)
    SELECT d.id, clock.now, %(max_attempts)s
      FROM due d CROSS JOIN clock
     WHERE d.active IS NULL
       AND (d.newest IS NULL OR d.newest <= clock.now - make_interval(secs => %(gap)s))
     ORDER BY d.id
    ON CONFLICT DO NOTHING
 RETURNING stream_id
)
SELECT d.key,
       d.id IN (SELECT stream_id FROM planned) AS planned,
       CASE WHEN d.active = 'running' THEN %(gap)s::float8
            WHEN d.active IS NULL
            THEN greatest(extract(epoch FROM d.newest + make_interval(secs => %(gap)s)
                                              - clock.now)::float8, 0)
       END AS retry_in
  FROM due d CROSS JOIN clock

-- name: discover_streams
-- Streams come into being on first sight: `sentinel ingest` creates its own,
-- and this finds those of events a connector wrote straight into `event`,
-- in the activity not pruned yet (a stream with no row has no cursor to
-- prune below). In key order, like ingest's upsert (no deadlock).
WITH found AS (
    INSERT INTO stream (key)
    SELECT DISTINCT a.stream FROM stream_activity a
     WHERE NOT EXISTS (SELECT 1 FROM stream s WHERE s.key = a.stream)
     ORDER BY a.stream
    ON CONFLICT (key) DO NOTHING
 RETURNING key
)
SELECT coalesce(array_agg(key ORDER BY key), '{}') FROM found

-- name: claim
-- Claim up to {limit} due runs this worker can serve, oldest window first:
-- owner, lease, a fresh fence and attempts+1 in one statement. The stream's
-- capabilities are checked per candidate so the scan walks ix_run_claim in
-- order and stops at the limit, whatever the number of streams.
WITH me AS (
    SELECT capabilities FROM worker WHERE id = %(worker_id)s AND status = 'active'
), picked AS (
    SELECT r.id
      FROM run r
     WHERE r.status = 'queued'
       AND r.not_before <= now()
       -- One boolean subquery (estimated at half the rows, not at @>'s 1 %%),
       -- so the planner walks ix_run_claim in order rather than sorting the
       -- whole backlog.
       AND (SELECT me.capabilities @> s.required_capabilities
              FROM stream s, me WHERE s.id = r.stream_id)
     ORDER BY r.window_start, r.id
     LIMIT {limit}
       FOR UPDATE OF r SKIP LOCKED
)
UPDATE run r
   SET status = 'running',
       lease_owner = %(worker_id)s,
       lease_expires_at = now() + make_interval(secs => %(lease_seconds)s),
       fence = nextval('run_fence_seq'),
       attempts = r.attempts + 1,
       started_at = now(),
       finished_at = NULL
  FROM picked, stream s
 WHERE r.id = picked.id AND s.id = r.stream_id
RETURNING r.id, r.stream_id, s.key AS stream, r.window_start, r.fence, r.attempts,
          r.max_attempts

-- name: queue_depth
SELECT count(*) FROM run WHERE status = 'queued'

-- name: pass_bounds
-- Where this pass starts, and how far it may read: only transactions below
-- the snapshot's xmin have all finished, so no event can still appear below it.
SELECT s.cursor_xid, s.cursor, s.last_event_at, s.replay_since,
       coalesce(%(now)s::timestamptz, now()) AS db_now,
       (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint AS horizon
  FROM stream s WHERE s.id = %(stream_id)s

-- name: batch_upper
-- Cap a pass at about %(batch)s events without splitting a transaction.
SELECT xact FROM event
 WHERE stream = %(stream)s AND xact >= %(from_xact)s AND xact < %(horizon)s
 ORDER BY xact
 LIMIT 1 OFFSET %(batch)s

-- name: pass_events
SELECT id, stream, kind, occurred_at, received_at, payload
  FROM event
 WHERE stream = %(stream)s AND xact >= %(from_xact)s AND xact < %(upper)s
 ORDER BY occurred_at, id

-- name: rule_states
SELECT rule_ref, state FROM rule_state WHERE stream_id = %(stream_id)s

-- name: lock_for_completion
-- Fencing: only the current lease holder may complete. Here and in every
-- fenced statement below the status is compared as text, so that the run is
-- looked up by its primary key: compared bare, it lets the planner take a
-- partial index on status, and with statistics from when the runs were all
-- queued a connection's cached plan found the run through ix_run_lease
-- (owner, running), scanning all of the worker's running runs for its id.
SELECT r.id FROM run r
 WHERE r.id = %(run_id)s AND r.fence = %(fence)s AND r.lease_owner = %(worker_id)s
   AND r.status::text = 'running'
   FOR UPDATE

-- name: save_state
INSERT INTO rule_state (stream_id, rule_ref, state, updated)
VALUES (%(stream_id)s, %(rule_ref)s, %(state)s, coalesce(%(now)s::timestamptz, now()))
ON CONFLICT (stream_id, rule_ref) DO UPDATE
   SET state = EXCLUDED.state, updated = EXCLUDED.updated

-- name: complete
-- Fenced completion of one batch in one statement: only if this worker still
-- holds the run (owner, fence, running) and the stream's cursor is still
-- where the batch started (a replay meanwhile wins); then the cursor
-- advances. The run's counts add up over its batches; the last batch
-- (%(final)s) marks it succeeded. Atomic on its own; the caller wraps it with
-- the findings in one transaction.
WITH cursor_unmoved AS (
    SELECT id FROM stream
     WHERE id = %(stream_id)s AND cursor_xid = %(from_xact)s
       FOR UPDATE
), done AS (
    UPDATE run
       SET status = CASE WHEN %(final)s THEN 'succeeded'::run_status ELSE status END,
           lease_expires_at = CASE WHEN %(final)s THEN NULL ELSE lease_expires_at END,
           finished_at = CASE WHEN %(final)s THEN now() END,
           first_event_id = coalesce(first_event_id, %(first_event_id)s),
           last_event_id = coalesce(%(last_event_id)s, last_event_id),
           event_count = event_count + %(event_count)s,
           detection_count = detection_count + %(detection_count)s,
           evidence_count = evidence_count + %(evidence_count)s,
           recommendation_count = recommendation_count + %(recommendation_count)s,
           problems = CASE WHEN jsonb_array_length(problems) >= %(max_problems)s THEN problems
                           ELSE problems || %(problems)s END,
           error = NULL
     WHERE id = %(run_id)s AND fence = %(fence)s AND lease_owner = %(worker_id)s
       AND status::text = 'running'
       AND EXISTS (SELECT 1 FROM cursor_unmoved)
 RETURNING stream_id
), moved AS (
    UPDATE stream
       SET cursor_xid = %(to_xact)s,
           cursor = greatest(cursor, %(last_event_id)s),
           last_pass_at = now(),
           next_due_at = %(next_due)s,
           replay_since = CASE WHEN %(final)s THEN NULL ELSE replay_since END
     WHERE id IN (SELECT stream_id FROM done)
 RETURNING id
)
SELECT EXISTS (SELECT 1 FROM done) AS completed,
       EXISTS (SELECT 1 FROM cursor_unmoved) AS cursor_unmoved,
       (SELECT count(*) FROM moved) AS moved,
       CASE WHEN %(final)s THEN pg_notify(%(channel)s, '') END

-- name: complete_many
-- The batch completer: many batches that found nothing to write (no
-- findings, so no notifications) completed in one statement, each exactly as
-- `complete` would, on its own: fenced (owner %(worker_id)s, its fence,
-- running) and only while its stream's cursor is where it started; then its
-- cursor, counts and changed rule states. An item refused is left untouched
-- and comes back with completed false. %(items)s is one JSON array (one
-- parameter, not fifteen per run); the runs are looked up by primary key.
-- The completed final ones come back with what their completion record
-- says (as `run_record`), for the caller to write in this transaction.
WITH item AS (
    SELECT * FROM jsonb_to_recordset(%(items)s::jsonb) AS i(
        run_id bigint, fence bigint, stream_id bigint, from_xact bigint, to_xact bigint,
        first_event_id bigint, last_event_id bigint, event_count int, problems jsonb,
        final boolean, next_due timestamptz, states jsonb)
), states_locked AS (
    -- The stored rule states it will write, locked before their streams,
    -- in the order `complete`'s caller and a replay take them (state, then
    -- stream): a replay of one of these streams waits for this statement or
    -- makes its run cursor-moved, never a deadlock.
    SELECT rs.stream_id FROM rule_state rs
     WHERE rs.stream_id = ANY (%(stream_ids)s::bigint[])
       AND (rs.stream_id, rs.rule_ref) IN (
           SELECT i.stream_id, k.key FROM item i CROSS JOIN jsonb_object_keys(i.states) AS k(key))
     ORDER BY rs.stream_id, rs.rule_ref
       FOR UPDATE
), cursor_unmoved AS (
    SELECT s.id FROM stream s
     WHERE s.id = ANY (%(stream_ids)s::bigint[])
       AND s.cursor_xid = (SELECT i.from_xact FROM item i WHERE i.stream_id = s.id)
       AND (SELECT count(*) FROM states_locked) >= 0  -- evaluated first: all of them
     ORDER BY s.id
       FOR UPDATE
), locked AS (
    -- The runs locked in id order, as the heartbeat's renewal takes them
    -- (two statements locking several of the worker's runs never wait on
    -- each other in a cycle), and only once all of their streams are
    -- locked, as `complete` does (the count, evaluated before the first run,
    -- reads every stream): a planner inserting a stream's next run takes
    -- the stream's key-share lock, then waits on this run.
    SELECT r.id FROM run r
     WHERE r.id = ANY (%(run_ids)s::bigint[]) AND r.lease_owner = %(worker_id)s
       AND (SELECT count(*) FROM cursor_unmoved) >= 0
     ORDER BY r.id
       FOR UPDATE
), done AS (
    UPDATE run r
       SET status = CASE WHEN i.final THEN 'succeeded'::run_status ELSE r.status END,
           lease_expires_at = CASE WHEN i.final THEN NULL ELSE r.lease_expires_at END,
           finished_at = CASE WHEN i.final THEN now() END,
           first_event_id = coalesce(r.first_event_id, i.first_event_id),
           last_event_id = coalesce(i.last_event_id, r.last_event_id),
           event_count = r.event_count + i.event_count,
           problems = CASE WHEN jsonb_array_length(r.problems) >= %(max_problems)s THEN r.problems
                           ELSE r.problems || i.problems END,
           error = NULL
      FROM item i
     WHERE r.id IN (SELECT id FROM locked) AND r.id = i.run_id
       AND r.fence = i.fence AND r.lease_owner = %(worker_id)s AND r.status::text = 'running'
       AND i.stream_id IN (SELECT id FROM cursor_unmoved)
 RETURNING r.id AS run_id, r.stream_id, r.window_start, r.first_event_id, r.last_event_id,
           r.event_count, r.detection_count, r.evidence_count, r.recommendation_count,
           jsonb_array_length(r.problems) AS problems, r.fence, r.attempts,
           r.lease_owner AS worker_id, r.started_at, r.finished_at, i.final,
           i.to_xact, i.next_due, i.states
), moved AS (
    UPDATE stream s
       SET cursor_xid = d.to_xact,
           cursor = greatest(s.cursor, d.last_event_id),
           last_pass_at = now(),
           next_due_at = d.next_due,
           replay_since = CASE WHEN d.final THEN NULL ELSE s.replay_since END
      FROM done d
     WHERE s.id = d.stream_id
), saved AS (
    INSERT INTO rule_state (stream_id, rule_ref, state, updated)
    SELECT d.stream_id, st.key, st.value, coalesce(%(now)s::timestamptz, now())
      FROM done d CROSS JOIN jsonb_each(d.states) st
     ORDER BY d.stream_id, st.key
    ON CONFLICT (stream_id, rule_ref) DO UPDATE
       SET state = EXCLUDED.state, updated = EXCLUDED.updated
)
SELECT i.run_id, d.run_id IS NOT NULL AS completed,
       i.stream_id IN (SELECT id FROM cursor_unmoved) AS cursor_unmoved,
       d.final, s.key AS stream, d.window_start, d.first_event_id, d.last_event_id,
       d.event_count, d.detection_count, d.evidence_count, d.recommendation_count,
       d.problems, d.fence, d.attempts, d.worker_id, w.name AS worker,
       d.started_at, d.finished_at,
       CASE WHEN d.final THEN ARRAY(SELECT x.fingerprint FROM detection x
                                     WHERE x.run_id = d.run_id ORDER BY x.fingerprint)
       END AS fingerprints,
       CASE WHEN d.final THEN pg_notify(%(channel)s, '') END
  FROM item i
  LEFT JOIN done d ON d.run_id = i.run_id
  LEFT JOIN stream s ON s.id = d.stream_id
  LEFT JOIN worker w ON w.id = d.worker_id

-- name: fail
-- Back to the queue after a backoff, or dead after max_attempts. Fenced.
UPDATE run
   SET status = CASE WHEN %(permanent)s THEN 'failed'::run_status
                     WHEN attempts >= max_attempts THEN 'dead'::run_status
                     ELSE 'queued'::run_status END,
       not_before = coalesce(%(now)s::timestamptz, now()) + make_interval(secs => %(delay)s),
       lease_owner = CASE WHEN attempts >= max_attempts OR %(permanent)s THEN lease_owner END,
       lease_expires_at = NULL,
       finished_at = CASE WHEN attempts >= max_attempts OR %(permanent)s
                          THEN coalesce(%(now)s::timestamptz, now()) END,
       error = %(error)s
 WHERE id = %(run_id)s AND fence = %(fence)s AND lease_owner = %(worker_id)s
   AND status::text = 'running'
RETURNING status::text

-- name: release
-- Give a run back untouched (a draining worker that could not finish it).
UPDATE run
   SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL,
       not_before = coalesce(%(now)s::timestamptz, now()),
       attempts = greatest(attempts - 1, 0)
 WHERE id = %(run_id)s AND fence = %(fence)s AND lease_owner = %(worker_id)s
   AND status::text = 'running'

-- name: prune_activity
-- What every stream has read: its activity below its cursor goes (a replay
-- resets the cursor and notes activity of its own, control/queries.sql).
DELETE FROM stream_activity a
 USING stream s
 WHERE s.key = a.stream AND a.xact < s.cursor_xid

-- name: prune_finished
-- Retention: delete a small batch of old finished runs (the caller loops).
DELETE FROM run WHERE id IN (
    SELECT id FROM run
     WHERE finished_at < coalesce(%(now)s::timestamptz, now())
                         - make_interval(secs => %(older_than)s)
       AND status IN ('succeeded', 'failed', 'dead')
     ORDER BY finished_at
     LIMIT %(batch)s
)
