-- name: retry
-- An operator's retry of a dead or failed run, unless its stream already has
-- an active run (which will cover the same events).
UPDATE run r
   SET status = 'queued', attempts = 0, not_before = coalesce(%(now)s::timestamptz, now()),
       error = NULL,
       lease_owner = NULL, lease_expires_at = NULL, finished_at = NULL
 WHERE r.id = %(run_id)s AND r.status IN ('dead', 'failed')
   AND NOT EXISTS (SELECT 1 FROM run o WHERE o.stream_id = r.stream_id
                                         AND o.status IN ('queued', 'running'))
RETURNING r.id

-- name: run_status
SELECT r.status::text, s.key FROM run r JOIN stream s ON s.id = r.stream_id
 WHERE r.id = %(run_id)s

-- name: replay
-- Re-evaluate a stream from an earlier time: rewind its cursor to the start
-- and forget the rules' state, so the next pass rebuilds that state from the
-- stream's first event exactly as it was (open episodes, SPC baselines), and
-- writes only findings detected at or after %(since)s (replay_since; the
-- earliest of two replays wins). Detections stay deduplicated by fingerprint.
WITH target AS (
    SELECT id FROM stream WHERE key = %(stream)s
), forgot AS (
    DELETE FROM rule_state WHERE stream_id IN (SELECT id FROM target)
), due AS (
    -- the planner's due test: events past the cursor, now all of them
    INSERT INTO stream_activity (stream, xact)
    SELECT %(stream)s, 0 FROM target
)
UPDATE stream s
   SET cursor_xid = 0,
       cursor = 0,
       replay_since = least(s.replay_since, %(since)s)
  FROM target t
 WHERE s.id = t.id
RETURNING (SELECT count(*) FROM event e WHERE e.stream = s.key) AS events

-- name: notify
-- Wake the schedulers: a run is queued, or a stream has work again.
SELECT pg_notify(%(channel)s, '')
