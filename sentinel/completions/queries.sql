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

-- name: notify
SELECT pg_notify(%(channel)s, %(payload)s)
