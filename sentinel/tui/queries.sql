-- name: summary
-- The header line: counts that stay cheap on a large fleet. Queued, retrying
-- and running runs are at most one per stream (one pass over ix_run_active);
-- dead runs and open recommendations are counted up to a cap on an index that
-- holds only them (ix_run_failing, ix_recommendation_open, index-only). Events
-- in the last minute are counted among the newest ids, walked backwards on the
-- primary key up to the cap: ids follow arrival (received_at is the inserting
-- transaction's now()), and an index on received_at would cost every ingest.
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now),
active AS (
    SELECT count(*) FILTER (WHERE status = 'queued' AND attempts = 0) AS queued,
           count(*) FILTER (WHERE status = 'queued' AND attempts > 0) AS retrying,
           count(*) FILTER (WHERE status = 'running') AS running
      FROM run
     WHERE status IN ('queued', 'running')
),
open AS (
    SELECT count(*) FILTER (WHERE severity = 'critical') AS critical,
           count(*) FILTER (WHERE severity = 'warning') AS warning,
           count(*) FILTER (WHERE severity = 'info') AS info
      FROM (SELECT severity FROM recommendation WHERE status = 'open' LIMIT %(cap)s) o
)
SELECT clock.now,
       (SELECT coalesce(jsonb_object_agg(status, n), '{}'::jsonb)
          FROM (SELECT status, count(*) AS n FROM worker GROUP BY status) w) AS workers,
       active.queued, active.retrying, active.running,
       (SELECT count(*) FROM (SELECT 1 FROM run WHERE status = 'dead' LIMIT %(cap)s) d) AS dead,
       -- the severity enum's values; only those that have any, as a GROUP BY gives
       jsonb_strip_nulls(jsonb_build_object('critical', nullif(open.critical, 0),
                                            'warning', nullif(open.warning, 0),
                                            'info', nullif(open.info, 0)))
           AS open_recommendations,
       (SELECT count(*)
          FROM (SELECT received_at FROM event ORDER BY id DESC LIMIT %(cap)s) e
         WHERE e.received_at > clock.now - interval '1 minute'
           AND e.received_at <= clock.now) AS events_last_minute
  FROM clock, active, open

-- name: workers
-- Live workers first, then by name (the first rows of ix_worker_status_name);
-- the runs each shown worker holds are counted on the partial lease index
-- (running runs only), one probe each.
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now)
SELECT w.id, w.name, w.worker_role::text AS role, w.worker_type::text AS type, w.host,
       w.status::text AS status,
       extract(epoch FROM clock.now - w.last_heartbeat)::float8 AS heartbeat_age,
       h.n::int AS running,
       w.capabilities->'runtimes' AS runtimes,
       w.capabilities->>'max_concurrent_runs' AS capacity,
       w.capabilities->>'sentinel_version' AS version,
       w.meta->>'started_at' AS started_at, w.created, clock.now
  FROM (SELECT * FROM worker ORDER BY status, name LIMIT %(limit)s) w
 CROSS JOIN clock
 CROSS JOIN LATERAL (
       SELECT count(*) AS n FROM run
        WHERE run.status = 'running' AND run.lease_owner = w.id) h
 ORDER BY w.status, w.name

-- name: runs
-- Active runs (at most one per stream) first, then the latest runs, newest
-- first. The ids come from two index-only walks backwards (ix_run_active, the
-- primary key) and are cut to the rows shown before any run is read.
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now),
picked AS (
    SELECT id, bool_or(active) AS active
      FROM ((SELECT id, true AS active FROM run WHERE status IN ('queued', 'running')
              ORDER BY id DESC LIMIT %(limit)s)
            UNION ALL
            (SELECT id, false AS active FROM run ORDER BY id DESC LIMIT %(limit)s)) ids
     GROUP BY id
     ORDER BY active DESC, id DESC
     LIMIT %(limit)s
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
-- Per shown stream, each on an index: the lag (events at or past the cursor's
-- transaction, counted up to a cap on event(stream, xact, id)), the newest
-- stored event (one probe), and its open detections (its open
-- recommendations, one each, on their partial index by stream: what is open,
-- not the stream's detection history).
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now)
SELECT s.id, s.key, s.enabled, s.cursor, s.replay_since IS NOT NULL AS replaying,
       lag.n::int AS lag,
       extract(epoch FROM clock.now - greatest(s.last_event_at, latest.occurred_at))::float8
           AS last_event_age,
       o.n::int AS open_detections
  FROM (SELECT * FROM stream ORDER BY key LIMIT %(limit)s) s
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
 CROSS JOIN LATERAL (
       SELECT count(*) AS n
         FROM recommendation r
        WHERE r.stream = s.key AND r.status = 'open') o
 ORDER BY s.key

-- name: recommendations
-- Open recommendations, plus the latest acknowledged and dismissed ones, on
-- recommendation(status, created); each looks up its detection by id.
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now),
picked AS (
    (SELECT * FROM recommendation WHERE status = 'open'
      ORDER BY created DESC LIMIT %(limit)s)
    UNION ALL
    (SELECT * FROM recommendation WHERE status = 'acknowledged'
      ORDER BY created DESC LIMIT %(recent)s)
    UNION ALL
    (SELECT * FROM recommendation WHERE status = 'dismissed'
      ORDER BY created DESC LIMIT %(recent)s)
)
SELECT r.id, r.detection_id, r.severity::text AS severity, d.stream, d.rule_ref AS rule,
       d.kind, r.text, r.status::text AS status,
       extract(epoch FROM clock.now - r.created)::float8 AS age,
       extract(epoch FROM clock.now - r.updated)::float8 AS updated_age
  FROM picked r
 -- OFFSET 0 keeps this a per-id index probe (never a scan of every detection)
 CROSS JOIN LATERAL (SELECT * FROM detection WHERE detection.id = r.detection_id OFFSET 0) d
 CROSS JOIN clock
 ORDER BY (r.status = 'open') DESC, r.severity DESC, r.created DESC, r.id DESC

-- name: detections
-- The latest detections by id, with their recommendation's status (one probe
-- each on the unique recommendation(detection_id)).
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now)
SELECT d.id, d.severity::text AS severity, d.stream, d.rule_ref AS rule, d.kind, d.summary,
       extract(epoch FROM clock.now - d.first_seen)::float8 AS first_seen_age,
       extract(epoch FROM clock.now - d.last_seen)::float8 AS last_seen_age,
       r.id AS recommendation_id, r.status::text AS recommendation_status, d.run_id
  FROM (SELECT * FROM detection ORDER BY id DESC LIMIT %(limit)s) d
  LEFT JOIN LATERAL (
       -- OFFSET 0 keeps this a per-id index probe (never a scan of every recommendation)
       SELECT id, status FROM recommendation
        WHERE recommendation.detection_id = d.id OFFSET 0) r ON true
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
