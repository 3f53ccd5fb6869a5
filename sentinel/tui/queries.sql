-- name: summary
-- The header line: counts that stay cheap on a large fleet. Dead runs, open
-- recommendations and recent events are counted up to a cap (bounded scans);
-- events in the last minute walk the newest ids backwards on the primary key.
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now)
SELECT clock.now,
       (SELECT coalesce(jsonb_object_agg(status, n), '{}'::jsonb)
          FROM (SELECT status, count(*) AS n FROM worker GROUP BY status) w) AS workers,
       (SELECT count(*) FROM run WHERE status = 'queued' AND attempts = 0) AS queued,
       (SELECT count(*) FROM run WHERE status = 'queued' AND attempts > 0) AS retrying,
       (SELECT count(*) FROM run WHERE status = 'running') AS running,
       (SELECT count(*) FROM (SELECT 1 FROM run WHERE status = 'dead' LIMIT %(cap)s) d) AS dead,
       (SELECT coalesce(jsonb_object_agg(severity, n), '{}'::jsonb)
          FROM (SELECT severity, count(*) AS n
                  FROM (SELECT severity FROM recommendation
                         WHERE status = 'open' LIMIT %(cap)s) o
                 GROUP BY severity) r) AS open_recommendations,
       (SELECT count(*)
          FROM (SELECT received_at FROM event ORDER BY id DESC LIMIT %(cap)s) e
         WHERE e.received_at > clock.now - interval '1 minute'
           AND e.received_at <= clock.now) AS events_last_minute
  FROM clock

-- name: workers
-- Live workers first, then by name; the runs each holds come from the
-- partial lease index (running runs only).
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now),
held AS (
    SELECT lease_owner, count(*) AS n
      FROM run
     WHERE status = 'running' AND lease_owner IS NOT NULL
     GROUP BY lease_owner
)
SELECT w.id, w.name, w.worker_role::text AS role, w.worker_type::text AS type, w.host,
       w.status::text AS status,
       extract(epoch FROM clock.now - w.last_heartbeat)::float8 AS heartbeat_age,
       coalesce(h.n, 0)::int AS running,
       w.capabilities->'runtimes' AS runtimes,
       w.capabilities->>'max_concurrent_runs' AS capacity,
       w.capabilities->>'sentinel_version' AS version,
       w.meta->>'started_at' AS started_at, w.created, clock.now
  FROM worker w
 CROSS JOIN clock
  LEFT JOIN held h ON h.lease_owner = w.id
 ORDER BY w.status, w.name
 LIMIT %(limit)s

-- name: runs
-- Active runs (at most one per stream) and the latest runs by id, newest first.
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now),
picked AS (
    (SELECT id FROM run WHERE status IN ('queued', 'running') ORDER BY id DESC LIMIT %(limit)s)
    UNION
    (SELECT id FROM run ORDER BY id DESC LIMIT %(limit)s)
)
SELECT r.id, s.key AS stream, r.window_start, r.status::text AS status, r.attempts,
       r.max_attempts, w.name AS owner,
       CASE WHEN r.status = 'running'
            THEN extract(epoch FROM r.lease_expires_at - clock.now)::float8 END AS lease_left,
       r.event_count, r.detection_count, r.evidence_count, r.recommendation_count,
       CASE WHEN r.status = 'running'
            THEN extract(epoch FROM clock.now - r.started_at)::float8
            WHEN r.finished_at IS NOT NULL
            THEN extract(epoch FROM r.finished_at - r.started_at)::float8 END AS duration,
       r.error, r.recovered,
       extract(epoch FROM r.not_before - clock.now)::float8 AS due_in
  FROM picked p
 -- OFFSET 0 keeps this a per-id index probe (never a scan of every run)
 CROSS JOIN LATERAL (SELECT * FROM run WHERE run.id = p.id OFFSET 0) r
  JOIN stream s ON s.id = r.stream_id
  LEFT JOIN worker w ON w.id = r.lease_owner
 CROSS JOIN clock
 ORDER BY (r.status IN ('queued', 'running')) DESC, r.id DESC
 LIMIT %(limit)s

-- name: streams
-- Per stream: the lag (events at or past the cursor's transaction, counted up
-- to a cap on event(stream, xact, id)), the newest stored event (one index
-- probe), and its open detections.
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now),
shown AS (SELECT * FROM stream ORDER BY key LIMIT %(limit)s),
open_detections AS (
    SELECT d.stream, count(*) AS n
      FROM recommendation r
      JOIN detection d ON d.id = r.detection_id
     WHERE r.status = 'open' AND d.stream IN (SELECT key FROM shown)
     GROUP BY d.stream
)
SELECT s.id, s.key, s.enabled, s.cursor, lag.n::int AS lag,
       extract(epoch FROM clock.now - greatest(s.last_event_at, latest.occurred_at))::float8
           AS last_event_age,
       coalesce(o.n, 0)::int AS open_detections
  FROM shown s
 CROSS JOIN clock
 CROSS JOIN LATERAL (
       SELECT count(*) AS n
         FROM (SELECT 1 FROM event e
                WHERE e.stream = s.key AND e.xact >= s.cursor_xid
                LIMIT %(lag_cap)s) x) lag
  LEFT JOIN LATERAL (
       SELECT e.occurred_at FROM event e
        WHERE e.stream = s.key
        ORDER BY e.xact DESC, e.id DESC
        LIMIT 1) latest ON true
  LEFT JOIN open_detections o ON o.stream = s.key
 ORDER BY s.key

-- name: recommendations
-- Open recommendations, plus the latest acknowledged and dismissed ones, on
-- recommendation(status, created).
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now),
picked AS (
    (SELECT id FROM recommendation WHERE status = 'open'
      ORDER BY created DESC LIMIT %(limit)s)
    UNION ALL
    (SELECT id FROM recommendation WHERE status = 'acknowledged'
      ORDER BY created DESC LIMIT %(recent)s)
    UNION ALL
    (SELECT id FROM recommendation WHERE status = 'dismissed'
      ORDER BY created DESC LIMIT %(recent)s)
)
SELECT r.id, r.detection_id, r.severity::text AS severity, d.stream, d.rule_ref AS rule,
       d.kind, r.text, r.status::text AS status,
       extract(epoch FROM clock.now - r.created)::float8 AS age,
       extract(epoch FROM clock.now - r.updated)::float8 AS updated_age
  FROM picked p
  JOIN recommendation r ON r.id = p.id
  JOIN detection d ON d.id = r.detection_id
 CROSS JOIN clock
 ORDER BY (r.status = 'open') DESC, r.severity DESC, r.created DESC, r.id DESC

-- name: detections
-- The latest detections by id, with their recommendation's status.
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now)
SELECT d.id, d.severity::text AS severity, d.stream, d.rule_ref AS rule, d.kind, d.summary,
       extract(epoch FROM clock.now - d.first_seen)::float8 AS first_seen_age,
       extract(epoch FROM clock.now - d.last_seen)::float8 AS last_seen_age,
       r.id AS recommendation_id, r.status::text AS recommendation_status, d.run_id
  FROM (SELECT * FROM detection ORDER BY id DESC LIMIT %(limit)s) d
  LEFT JOIN recommendation r ON r.detection_id = d.id
 CROSS JOIN clock
 ORDER BY d.id DESC

-- name: detection
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now)
SELECT d.id, d.severity::text AS severity, d.stream, d.rule_ref AS rule, d.kind, d.summary,
       d.first_seen, d.last_seen, d.run_id, d.anchor_event_id,
       r.id AS recommendation_id, r.status::text AS recommendation_status,
       r.text AS recommendation_text,
       extract(epoch FROM clock.now - r.created)::float8 AS recommendation_age
  FROM detection d
  LEFT JOIN recommendation r ON r.detection_id = d.id
 CROSS JOIN clock
 WHERE d.id = %(detection_id)s

-- name: evidence
SELECT id, kind, event_id, data
  FROM evidence
 WHERE detection_id = %(detection_id)s
 ORDER BY id
 LIMIT %(limit)s
