-- name: run_record
-- What a completed run's record says, read in its completing transaction
-- (after the final batch marked it succeeded): the run's own columns add up
-- over all of its batches and attempts, and the fingerprints are those of
-- the detections it wrote (detection.run_id: set once, when first written).
SELECT r.id AS run_id, s.key AS stream, r.window_start, r.first_event_id, r.last_event_id,
       r.event_count, r.detection_count, r.evidence_count, r.recommendation_count,
       jsonb_array_length(r.problems) AS problems, r.fence, r.attempts,
       r.lease_owner AS worker_id, w.name AS worker, r.started_at, r.finished_at,
       ARRAY(SELECT d.fingerprint FROM detection d WHERE d.run_id = r.id
              ORDER BY d.fingerprint) AS fingerprints
  FROM run r
  JOIN stream s ON s.id = r.stream_id
  LEFT JOIN worker w ON w.id = r.lease_owner
 WHERE r.id = %(run_id)s

-- name: insert
-- One record per run: a run completes once (its fenced final batch).
INSERT INTO completion (run_id, stream, fence, envelope, signed, key_id)
VALUES (%(run_id)s, %(stream)s, %(fence)s, %(envelope)s, %(signed)s, %(key_id)s)
ON CONFLICT (run_id) DO NOTHING
RETURNING id

-- name: insert_many
-- The records of the runs one batch completion completed (the worker's batch
-- completer), each announced on the completion channel as `record` does.
WITH stored AS (
    INSERT INTO completion (run_id, stream, fence, envelope, signed, key_id)
    SELECT r.run_id, r.stream, r.fence, r.envelope, r.signed, r.key_id
      FROM jsonb_to_recordset(%(records)s::jsonb) AS r(
           run_id bigint, stream text, fence bigint, envelope jsonb, signed boolean,
           key_id text)
     ORDER BY r.run_id
    ON CONFLICT (run_id) DO NOTHING
 RETURNING run_id
)
SELECT pg_notify(%(channel)s, run_id::text) FROM stored

-- name: notify
SELECT pg_notify(%(channel)s, %(payload)s)
