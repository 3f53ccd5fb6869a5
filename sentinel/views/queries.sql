-- name: summary
-- The header line: counts that stay cheap on a large fleet. Queued, retrying
-- and running runs are at most one per stream (one pass over ix_run_active);
-- dead runs and open recommendations are counted up to a cap on an index that
-- holds only them (ix_run_failing, ix_recommendation_open). Shelved and
-- suppressed ones are stored open but are not: counted apart. Events
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
      FROM (SELECT severity FROM recommendation
             WHERE status = 'open' AND shelf_id IS NULL AND suppressed_by IS NULL
             LIMIT %(cap)s) o
),
apart AS (
    SELECT count(*) FILTER (WHERE shelf_id IS NOT NULL) AS shelved,
           count(*) FILTER (WHERE shelf_id IS NULL) AS suppressed
      FROM (SELECT shelf_id FROM recommendation
             WHERE status = 'open' AND (shelf_id IS NOT NULL OR suppressed_by IS NOT NULL)
             LIMIT %(cap)s) a
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
       apart.shelved, apart.suppressed,
       (SELECT count(*)
          FROM (SELECT received_at FROM event ORDER BY id DESC LIMIT %(cap)s) e
         WHERE e.received_at > clock.now - interval '1 minute'
           AND e.received_at <= clock.now) AS events_last_minute
  FROM clock, active, open, apart

-- name: workers
-- Live workers first, then by name (the first rows of ix_worker_status_name)
-- that the filter lets through (all of them when the limit is NULL: `workers
-- list`); the runs each shown worker holds are counted on the partial lease
-- index (running runs only), one probe each. An inactive worker's uptime
-- stops at its last heartbeat. A page after (after_status, after_name) starts
-- past that worker in the same order (the API's cursor).
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now)
SELECT w.id, w.name, w.worker_role::text AS worker_role, w.worker_type::text AS worker_type,
       w.host,
       w.status::text AS status,
       extract(epoch FROM clock.now - w.last_heartbeat)::float8 AS heartbeat_age,
       h.n::int AS running,
       w.capabilities->'runtimes' AS runtimes,
       w.capabilities->>'max_concurrent_runs' AS capacity,
       w.capabilities->>'sentinel_version' AS version,
       w.meta->>'started_at' AS started_at, w.created,
       CASE WHEN w.status = 'inactive' THEN w.last_heartbeat ELSE clock.now END AS now
  FROM (SELECT * FROM worker w
         WHERE w.status = ANY(%(status)s::worker_status[])
           AND w.worker_role = ANY(%(role)s::worker_role[])
           AND w.name ~* ALL(%(worker_re)s::text[]) AND NOT w.name ~* ANY(%(worker_not)s::text[])
           AND concat_ws(' ', w.name, w.worker_role, w.worker_type, w.host, w.status,
                         w.capabilities->>'runtimes', w.capabilities->>'sentinel_version')
               ~* ALL(%(words_re)s::text[])
           AND NOT concat_ws(' ', w.name, w.worker_role, w.worker_type, w.host, w.status,
                             w.capabilities->>'runtimes', w.capabilities->>'sentinel_version')
               ~* ANY(%(words_not)s::text[])
           AND NOT %(nothing)s
           AND (%(after_name)s::text IS NULL
                OR (w.status, w.name) > (%(after_status)s::worker_status, %(after_name)s::text))
         ORDER BY w.status, w.name LIMIT %(limit)s) w
 CROSS JOIN clock
 CROSS JOIN LATERAL (
       SELECT count(*) AS n FROM run
        WHERE run.status = 'running' AND run.lease_owner = w.id) h
 ORDER BY w.status, w.name

-- name: workers_count
-- How many workers the filter lets through, up to the cap.
SELECT count(*)::int AS n FROM (
    SELECT 1 FROM worker w
     WHERE w.status = ANY(%(status)s::worker_status[])
       AND w.worker_role = ANY(%(role)s::worker_role[])
       AND w.name ~* ALL(%(worker_re)s::text[]) AND NOT w.name ~* ANY(%(worker_not)s::text[])
       AND concat_ws(' ', w.name, w.worker_role, w.worker_type, w.host, w.status,
                     w.capabilities->>'runtimes', w.capabilities->>'sentinel_version')
           ~* ALL(%(words_re)s::text[])
       AND NOT concat_ws(' ', w.name, w.worker_role, w.worker_type, w.host, w.status,
                         w.capabilities->>'runtimes', w.capabilities->>'sentinel_version')
           ~* ANY(%(words_not)s::text[])
       AND NOT %(nothing)s
     LIMIT %(cap)s) x

-- name: runs
-- Active runs (at most one per stream) first, then the latest runs, newest
-- first, of those the filter lets through (and, unless asked, not the empty
-- successful ones: 0 events, 0 detections). The ids come from two walks
-- backwards (ix_run_active, the primary key; ix_run_failing for dead and
-- failed) and are cut to the rows shown before any run is read. A running
-- run is `long` when it has run more than LONG_FACTOR times the median pass
-- of its stream's latest succeeded runs (at least LONG_FLOOR seconds).
-- Without active_first (`runs list`), simply the newest first; a page of
-- those below before_id (the API's cursor) walks on from there, so rows
-- inserted meanwhile never shift it; `since`: only runs created since then.
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now),
picked AS (
    SELECT id, bool_or(active) AS active
      FROM ((SELECT id, true AS active FROM run
              WHERE status IN ('queued', 'running')
                AND status = ANY(%(run_status)s::run_status[])
                AND (status <> 'queued' OR (attempts > 0) = ANY(%(retrying)s::bool[]))
                AND (%(filtered)s = false OR EXISTS (
                     SELECT 1 FROM stream s LEFT JOIN worker w ON w.id = run.lease_owner
                      WHERE s.id = run.stream_id
                        AND s.key ~* ALL(%(stream_re)s::text[])
                        AND NOT s.key ~* ANY(%(stream_not)s::text[])
                        AND coalesce(w.name, '') ~* ALL(%(worker_re)s::text[])
                        AND NOT coalesce(w.name, '') ~* ANY(%(worker_not)s::text[])
                        AND concat_ws(' ', run.id, s.key, w.name, run.error,
                                      CASE WHEN run.status = 'queued' AND run.attempts > 0
                                           THEN 'retrying' ELSE run.status::text END)
                            ~* ALL(%(words_re)s::text[])
                        AND NOT concat_ws(' ', run.id, s.key, w.name, run.error,
                                          CASE WHEN run.status = 'queued' AND run.attempts > 0
                                               THEN 'retrying' ELSE run.status::text END)
                            ~* ANY(%(words_not)s::text[])))
                AND NOT %(nothing)s
                AND id < coalesce(%(before_id)s::bigint, 9223372036854775807)
                AND created >= coalesce(%(since)s::timestamptz, '-infinity')
              ORDER BY id DESC LIMIT %(limit)s)
            UNION ALL
            (SELECT id, false AS active FROM run
              WHERE status = ANY(%(run_status)s::run_status[])
                AND (status <> 'queued' OR (attempts > 0) = ANY(%(retrying)s::bool[]))
                AND (%(show_empty)s OR status <> 'succeeded' OR event_count > 0
                     OR detection_count > 0)
                AND (%(filtered)s = false OR EXISTS (
                     SELECT 1 FROM stream s LEFT JOIN worker w ON w.id = run.lease_owner
                      WHERE s.id = run.stream_id
                        AND s.key ~* ALL(%(stream_re)s::text[])
                        AND NOT s.key ~* ANY(%(stream_not)s::text[])
                        AND coalesce(w.name, '') ~* ALL(%(worker_re)s::text[])
                        AND NOT coalesce(w.name, '') ~* ANY(%(worker_not)s::text[])
                        AND concat_ws(' ', run.id, s.key, w.name, run.error,
                                      CASE WHEN run.status = 'queued' AND run.attempts > 0
                                           THEN 'retrying' ELSE run.status::text END)
                            ~* ALL(%(words_re)s::text[])
                        AND NOT concat_ws(' ', run.id, s.key, w.name, run.error,
                                          CASE WHEN run.status = 'queued' AND run.attempts > 0
                                               THEN 'retrying' ELSE run.status::text END)
                            ~* ANY(%(words_not)s::text[])))
                AND NOT %(nothing)s
                AND id < coalesce(%(before_id)s::bigint, 9223372036854775807)
                AND created >= coalesce(%(since)s::timestamptz, '-infinity')
              ORDER BY id DESC LIMIT %(limit)s)) ids
     GROUP BY id
     ORDER BY (bool_or(active) AND %(active_first)s) DESC, id DESC
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
       extract(epoch FROM r.not_before - clock.now)::float8 AS due_in,
       r.created, r.started_at, r.finished_at,
       usual.median AS usual_duration,
       coalesce(r.status = 'running'
                AND clock.now - r.started_at
                    > greatest(make_interval(secs => %(long_floor)s),
                               make_interval(secs => usual.median * %(long_factor)s)),
                false) AS long
  FROM picked p
 -- OFFSET 0 keeps this a per-id index probe (never a scan of every run)
 CROSS JOIN LATERAL (SELECT * FROM run WHERE run.id = p.id OFFSET 0) r
  JOIN stream s ON s.id = r.stream_id
  LEFT JOIN worker w ON w.id = r.lease_owner
 CROSS JOIN clock
 -- a running run's usual pass: the median of its stream's latest succeeded
 -- runs, walked backwards on ix_run_stream_created (at most USUAL_RUNS)
  LEFT JOIN LATERAL (
       SELECT percentile_cont(0.5) WITHIN GROUP (
                  ORDER BY extract(epoch FROM u.finished_at - u.started_at))::float8 AS median
         FROM (SELECT finished_at, started_at FROM run u
                WHERE u.stream_id = r.stream_id AND u.status = 'succeeded'
                  AND u.id < r.id
                ORDER BY u.id DESC LIMIT %(usual_runs)s) u) usual ON r.status = 'running'
 ORDER BY (r.status IN ('queued', 'running') AND %(active_first)s) DESC, r.id DESC
 LIMIT %(limit)s

-- name: runs_count
-- How many runs the filter lets through, up to the cap.
SELECT count(*)::int AS n FROM (
    SELECT 1 FROM run
     WHERE status = ANY(%(run_status)s::run_status[])
       AND (status <> 'queued' OR (attempts > 0) = ANY(%(retrying)s::bool[]))
       AND (%(show_empty)s OR status <> 'succeeded' OR event_count > 0 OR detection_count > 0)
       AND (%(filtered)s = false OR EXISTS (
            SELECT 1 FROM stream s LEFT JOIN worker w ON w.id = run.lease_owner
             WHERE s.id = run.stream_id
               AND s.key ~* ALL(%(stream_re)s::text[])
               AND NOT s.key ~* ANY(%(stream_not)s::text[])
               AND coalesce(w.name, '') ~* ALL(%(worker_re)s::text[])
               AND NOT coalesce(w.name, '') ~* ANY(%(worker_not)s::text[])
               AND concat_ws(' ', run.id, s.key, w.name, run.error,
                             CASE WHEN run.status = 'queued' AND run.attempts > 0
                                  THEN 'retrying' ELSE run.status::text END)
                   ~* ALL(%(words_re)s::text[])
               AND NOT concat_ws(' ', run.id, s.key, w.name, run.error,
                                 CASE WHEN run.status = 'queued' AND run.attempts > 0
                                      THEN 'retrying' ELSE run.status::text END)
                   ~* ANY(%(words_not)s::text[])))
       AND NOT %(nothing)s
     LIMIT %(cap)s) x

-- name: streams
-- The streams by key that the filter lets through (the state needs the
-- newest stored event: one probe each); then per shown stream, each on an
-- index: the lag (events at or past the cursor's transaction, counted up to a
-- cap on event(stream, xact, id)) and its open detections (its open
-- recommendations, one each, on their partial index by stream: what is open,
-- not shelved nor suppressed, not the stream's detection history). A page after after_key starts past it.
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now)
SELECT s.id, s.key, s.enabled, s.cursor, s.replaying, lag.n::int AS lag,
       s.last_event_age, s.state, o.n::int AS open_detections
  FROM (SELECT s.id, s.key, s.enabled, s.cursor, s.cursor_xid,
               s.replay_since IS NOT NULL AS replaying, st.last_event_age, st.state
          FROM stream s
         CROSS JOIN clock
          LEFT JOIN LATERAL (
               SELECT e.occurred_at FROM event e
                WHERE e.stream = s.key
                ORDER BY e.xact DESC, e.id DESC
                LIMIT 1) latest ON true
         CROSS JOIN LATERAL (
               SELECT a.age AS last_event_age,
                      CASE WHEN NOT s.enabled THEN 'disabled'
                           WHEN s.replay_since IS NOT NULL THEN 'replaying'
                           WHEN a.age IS NULL OR a.age > %(silence)s THEN 'silent'
                           ELSE 'live' END AS state
                 FROM (SELECT extract(epoch FROM clock.now
                                      - greatest(s.last_event_at, latest.occurred_at))::float8
                              AS age) a) st
         WHERE st.state = ANY(%(status)s::text[])
           AND s.key ~* ALL(%(stream_re)s::text[]) AND NOT s.key ~* ANY(%(stream_not)s::text[])
           AND concat_ws(' ', s.key, st.state) ~* ALL(%(words_re)s::text[])
           AND NOT concat_ws(' ', s.key, st.state) ~* ANY(%(words_not)s::text[])
           AND NOT %(nothing)s
           AND s.key > coalesce(%(after_key)s::text, '')
         ORDER BY s.key
         LIMIT %(limit)s) s
 CROSS JOIN LATERAL (
       SELECT count(*) AS n
         FROM (SELECT 1 FROM event e
                WHERE e.stream = s.key AND e.xact >= s.cursor_xid
                LIMIT %(lag_cap)s) x) lag
 CROSS JOIN LATERAL (
       SELECT count(*) AS n
         FROM recommendation r
        WHERE r.stream = s.key AND r.status = 'open'
          AND r.shelf_id IS NULL AND r.suppressed_by IS NULL) o
 ORDER BY s.key

-- name: streams_count
-- How many streams the filter lets through, up to the cap.
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now)
SELECT count(*)::int AS n FROM (
    SELECT 1
      FROM stream s
     CROSS JOIN clock
      LEFT JOIN LATERAL (
           SELECT e.occurred_at FROM event e
            WHERE e.stream = s.key
            ORDER BY e.xact DESC, e.id DESC
            LIMIT 1) latest ON true
     CROSS JOIN LATERAL (
           SELECT CASE WHEN NOT s.enabled THEN 'disabled'
                       WHEN s.replay_since IS NOT NULL THEN 'replaying'
                       WHEN a.age IS NULL OR a.age > %(silence)s THEN 'silent'
                       ELSE 'live' END AS state
             FROM (SELECT extract(epoch FROM clock.now
                                  - greatest(s.last_event_at, latest.occurred_at))::float8
                          AS age) a) st
     WHERE st.state = ANY(%(status)s::text[])
       AND s.key ~* ALL(%(stream_re)s::text[]) AND NOT s.key ~* ANY(%(stream_not)s::text[])
       AND concat_ws(' ', s.key, st.state) ~* ALL(%(words_re)s::text[])
       AND NOT concat_ws(' ', s.key, st.state) ~* ANY(%(words_not)s::text[])
       AND NOT %(nothing)s
     LIMIT %(cap)s) x

-- name: recommendations
-- Of those the filter lets through: open recommendations, the most severe
-- first, then newest (ix_recommendation_status_severity), then the latest
-- shelved or suppressed ones (stored open: ix_recommendation_status) and the
-- latest acknowledged and dismissed ones (ix_recommendation_status); each
-- looks up its detection by id (the rule) as it is walked. `shown` (and the
-- `status` returned) is the status as people read it and `state` the
-- combined state, as sentinel.types spells them (shown_recommendation_status,
-- finding_state).
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now),
picked AS (
    (SELECT r.*, d.rule_ref, d.kind, d.cleared_at FROM recommendation r
      -- OFFSET 0 keeps this a per-id index probe (never a scan of every detection)
      CROSS JOIN LATERAL (SELECT rule_ref, kind, cleared_at FROM detection
                           WHERE detection.id = r.detection_id OFFSET 0) d
      WHERE r.status = 'open' AND r.shelf_id IS NULL AND r.suppressed_by IS NULL
        AND 'open' = ANY(%(shown)s::text[])
        AND CASE WHEN d.cleared_at IS NULL THEN 'unacknowledged-active'
                 ELSE 'unacknowledged-cleared' END = ANY(%(state)s::text[])
        AND r.severity = ANY(%(severity)s::severity[])
        AND r.stream ~* ALL(%(stream_re)s::text[]) AND NOT r.stream ~* ANY(%(stream_not)s::text[])
        AND d.rule_ref ~* ALL(%(rule_re)s::text[]) AND NOT d.rule_ref ~* ANY(%(rule_not)s::text[])
        AND concat_ws(' ', r.id, r.severity, r.stream, d.rule_ref, r.status, r.text)
            ~* ALL(%(words_re)s::text[])
        AND NOT concat_ws(' ', r.id, r.severity, r.stream, d.rule_ref, r.status, r.text)
            ~* ANY(%(words_not)s::text[])
        AND NOT %(nothing)s
      ORDER BY r.severity DESC, r.created DESC LIMIT %(limit)s)
    UNION ALL
    (SELECT x.* FROM unnest(%(apart)s::recommendation_status[]) stored(status)
      CROSS JOIN LATERAL (
           SELECT r.*, d.rule_ref, d.kind, d.cleared_at FROM recommendation r
            CROSS JOIN LATERAL (SELECT rule_ref, kind, cleared_at FROM detection
                                 WHERE detection.id = r.detection_id OFFSET 0) d
            CROSS JOIN LATERAL (
                         SELECT CASE WHEN r.status = 'open' AND r.shelf_id IS NOT NULL THEN 'shelved'
                                     WHEN r.status = 'open' AND r.suppressed_by IS NOT NULL THEN 'suppressed'
                                     ELSE r.status::text END AS shown,
                                CASE WHEN r.status = 'dismissed' THEN 'dismissed'
                                     WHEN r.shelf_id IS NOT NULL THEN 'shelved'
                                     WHEN r.suppressed_by IS NOT NULL THEN 'suppressed'
                                     WHEN r.status = 'acknowledged'
                                     THEN CASE WHEN d.cleared_at IS NULL THEN 'acknowledged-active'
                                               ELSE 'done' END
                                     WHEN d.cleared_at IS NULL THEN 'unacknowledged-active'
                                     ELSE 'unacknowledged-cleared' END AS state) st
            WHERE r.status = stored.status
              AND (r.status <> 'open' OR r.shelf_id IS NOT NULL OR r.suppressed_by IS NOT NULL)
              AND st.shown = ANY(%(shown)s::text[]) AND st.state = ANY(%(state)s::text[])
              AND r.severity = ANY(%(severity)s::severity[])
              AND r.stream ~* ALL(%(stream_re)s::text[])
              AND NOT r.stream ~* ANY(%(stream_not)s::text[])
              AND d.rule_ref ~* ALL(%(rule_re)s::text[])
              AND NOT d.rule_ref ~* ANY(%(rule_not)s::text[])
              AND concat_ws(' ', r.id, r.severity, r.stream, d.rule_ref, st.shown, r.text)
                  ~* ALL(%(words_re)s::text[])
              AND NOT concat_ws(' ', r.id, r.severity, r.stream, d.rule_ref, st.shown, r.text)
                  ~* ANY(%(words_not)s::text[])
              AND NOT %(nothing)s
            ORDER BY r.created DESC LIMIT %(recent)s) x)
)
SELECT r.id, r.detection_id, r.severity::text AS severity, r.stream, r.rule_ref AS rule,
       r.kind,
       CASE WHEN r.status = 'open' AND r.shelf_id IS NOT NULL THEN 'shelved'
            WHEN r.status = 'open' AND r.suppressed_by IS NOT NULL THEN 'suppressed'
            ELSE r.status::text END AS status,
       r.cleared_at, r.text, r.created, r.updated,
       extract(epoch FROM clock.now - r.created)::float8 AS age,
       extract(epoch FROM clock.now - r.updated)::float8 AS updated_age
  FROM picked r
 CROSS JOIN clock
 ORDER BY (r.status = 'open' AND r.shelf_id IS NULL AND r.suppressed_by IS NULL) DESC,
          r.status = 'open' DESC, r.severity DESC, r.created DESC, r.id DESC

-- name: recommendations_latest
-- The newest recommendations first (`recommendations list`) of those the
-- filter lets through: for each status it allows, a walk backwards on
-- ix_recommendation_status (status, created) up to the limit, each looking
-- up its detection by id (the rule) as it is walked; then the newest of those.
-- A page before (before_created, before_id) walks on from there. `shown` and
-- `state` as in `recommendations`.
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now)
SELECT r.id, r.detection_id, r.severity::text AS severity, r.stream, r.rule_ref AS rule,
       r.kind,
       CASE WHEN r.status = 'open' AND r.shelf_id IS NOT NULL THEN 'shelved'
            WHEN r.status = 'open' AND r.suppressed_by IS NOT NULL THEN 'suppressed'
            ELSE r.status::text END AS status,
       r.cleared_at, r.text, r.created, r.updated,
       extract(epoch FROM clock.now - r.created)::float8 AS age,
       extract(epoch FROM clock.now - r.updated)::float8 AS updated_age
  FROM unnest(%(status)s::recommendation_status[]) stored(status)
 CROSS JOIN LATERAL (
       SELECT r.*, d.rule_ref, d.kind, d.cleared_at FROM recommendation r
        -- OFFSET 0 keeps this a per-id index probe (never a scan of every detection)
        CROSS JOIN LATERAL (SELECT rule_ref, kind, cleared_at FROM detection
                             WHERE detection.id = r.detection_id OFFSET 0) d
        CROSS JOIN LATERAL (
                     SELECT CASE WHEN r.status = 'open' AND r.shelf_id IS NOT NULL THEN 'shelved'
                                 WHEN r.status = 'open' AND r.suppressed_by IS NOT NULL THEN 'suppressed'
                                 ELSE r.status::text END AS shown,
                            CASE WHEN r.status = 'dismissed' THEN 'dismissed'
                                 WHEN r.shelf_id IS NOT NULL THEN 'shelved'
                                 WHEN r.suppressed_by IS NOT NULL THEN 'suppressed'
                                 WHEN r.status = 'acknowledged'
                                 THEN CASE WHEN d.cleared_at IS NULL THEN 'acknowledged-active'
                                           ELSE 'done' END
                                 WHEN d.cleared_at IS NULL THEN 'unacknowledged-active'
                                 ELSE 'unacknowledged-cleared' END AS state) st
        WHERE r.status = stored.status
          AND st.shown = ANY(%(shown)s::text[]) AND st.state = ANY(%(state)s::text[])
          AND r.severity = ANY(%(severity)s::severity[])
          AND r.stream ~* ALL(%(stream_re)s::text[])
          AND NOT r.stream ~* ANY(%(stream_not)s::text[])
          AND d.rule_ref ~* ALL(%(rule_re)s::text[])
          AND NOT d.rule_ref ~* ANY(%(rule_not)s::text[])
          AND concat_ws(' ', r.id, r.severity, r.stream, d.rule_ref, st.shown, r.text)
              ~* ALL(%(words_re)s::text[])
          AND NOT concat_ws(' ', r.id, r.severity, r.stream, d.rule_ref, st.shown, r.text)
              ~* ANY(%(words_not)s::text[])
          AND NOT %(nothing)s
          AND (r.created, r.id)
              < (coalesce(%(before_created)s::timestamptz, 'infinity'),
                 coalesce(%(before_id)s::bigint, 9223372036854775807))
        ORDER BY r.created DESC, r.id DESC
        LIMIT %(limit)s) r
 CROSS JOIN clock
 ORDER BY r.created DESC, r.id DESC
 LIMIT %(limit)s

-- name: recommendations_count
-- How many recommendations the filter lets through, up to the cap: on
-- ix_recommendation_status_severity alone unless the filter needs the
-- detection's rule, the words or the combined state (`every_state`: no
-- term on it). `shown` and `state` as in `recommendations`.
SELECT count(*)::int AS n FROM (
    SELECT 1 FROM recommendation r
     CROSS JOIN LATERAL (
           SELECT CASE WHEN r.status = 'open' AND r.shelf_id IS NOT NULL THEN 'shelved'
                       WHEN r.status = 'open' AND r.suppressed_by IS NOT NULL THEN 'suppressed'
                       ELSE r.status::text END AS shown) sh
     WHERE r.status = ANY(%(status)s::recommendation_status[])
       AND sh.shown = ANY(%(shown)s::text[])
       AND r.severity = ANY(%(severity)s::severity[])
       AND r.stream ~* ALL(%(stream_re)s::text[]) AND NOT r.stream ~* ANY(%(stream_not)s::text[])
       AND (cardinality(%(rule_re)s::text[]) + cardinality(%(rule_not)s::text[])
            + cardinality(%(words_re)s::text[]) + cardinality(%(words_not)s::text[]) = 0
            AND %(every_state)s
            OR EXISTS (
               SELECT 1 FROM detection d
                CROSS JOIN LATERAL (
                             SELECT CASE WHEN r.status = 'open' AND r.shelf_id IS NOT NULL THEN 'shelved'
                                         WHEN r.status = 'open' AND r.suppressed_by IS NOT NULL THEN 'suppressed'
                                         ELSE r.status::text END AS shown,
                                    CASE WHEN r.status = 'dismissed' THEN 'dismissed'
                                         WHEN r.shelf_id IS NOT NULL THEN 'shelved'
                                         WHEN r.suppressed_by IS NOT NULL THEN 'suppressed'
                                         WHEN r.status = 'acknowledged'
                                         THEN CASE WHEN d.cleared_at IS NULL THEN 'acknowledged-active'
                                                   ELSE 'done' END
                                         WHEN d.cleared_at IS NULL THEN 'unacknowledged-active'
                                         ELSE 'unacknowledged-cleared' END AS state) st
                WHERE d.id = r.detection_id
                  AND st.state = ANY(%(state)s::text[])
                  AND d.rule_ref ~* ALL(%(rule_re)s::text[])
                  AND NOT d.rule_ref ~* ANY(%(rule_not)s::text[])
                  AND concat_ws(' ', r.id, r.severity, r.stream, d.rule_ref, st.shown, r.text)
                      ~* ALL(%(words_re)s::text[])
                  AND NOT concat_ws(' ', r.id, r.severity, r.stream, d.rule_ref, st.shown, r.text)
                      ~* ANY(%(words_not)s::text[])))
       AND NOT %(nothing)s
     LIMIT %(cap)s) x

-- name: detections
-- The latest detections by id (by severity and id when filtered by severity:
-- ix_detection_severity) that the filter lets through, with their
-- recommendation's status as people read it (one probe each on the unique
-- recommendation(detection_id)): open, shelved, suppressed, acknowledged, dismissed.
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now)
SELECT d.id, d.severity::text AS severity, d.stream, d.rule_ref AS rule, d.kind, d.summary,
       extract(epoch FROM clock.now - d.first_seen)::float8 AS first_seen_age,
       extract(epoch FROM clock.now - d.last_seen)::float8 AS last_seen_age,
       d.recommendation_id, d.recommendation_status, d.run_id
  FROM (SELECT d.*, r.id AS recommendation_id, r.status AS recommendation_status
          FROM detection d
          LEFT JOIN LATERAL (
               -- OFFSET 0 keeps this a per-id index probe (never a scan of every recommendation)
               SELECT id, CASE WHEN status = 'open' AND shelf_id IS NOT NULL THEN 'shelved'
                           WHEN status = 'open' AND suppressed_by IS NOT NULL THEN 'suppressed'
                           ELSE status::text END AS status
                 FROM recommendation
                WHERE recommendation.detection_id = d.id OFFSET 0) r ON true
         WHERE d.severity = ANY(%(severity)s::severity[])
           AND coalesce(r.status::text, '-') = ANY(%(status)s::text[])
           AND d.stream ~* ALL(%(stream_re)s::text[]) AND NOT d.stream ~* ANY(%(stream_not)s::text[])
           AND d.rule_ref ~* ALL(%(rule_re)s::text[]) AND NOT d.rule_ref ~* ANY(%(rule_not)s::text[])
           AND concat_ws(' ', d.id, d.severity, d.stream, d.rule_ref, d.kind,
                         coalesce(r.status::text, '-'), d.summary) ~* ALL(%(words_re)s::text[])
           AND NOT concat_ws(' ', d.id, d.severity, d.stream, d.rule_ref, d.kind,
                             coalesce(r.status::text, '-'), d.summary)
               ~* ANY(%(words_not)s::text[])
           AND NOT %(nothing)s
         ORDER BY d.id DESC
         LIMIT %(limit)s) d
 CROSS JOIN clock
 ORDER BY d.id DESC

-- name: detections_count
-- How many detections the filter lets through, up to the cap.
SELECT count(*)::int AS n FROM (
    SELECT 1 FROM detection d
      LEFT JOIN LATERAL (
           SELECT CASE WHEN status = 'open' AND shelf_id IS NOT NULL THEN 'shelved'
                       WHEN status = 'open' AND suppressed_by IS NOT NULL THEN 'suppressed'
                       ELSE status::text END AS status
             FROM recommendation
            WHERE recommendation.detection_id = d.id OFFSET 0) r ON true
     WHERE d.severity = ANY(%(severity)s::severity[])
       AND coalesce(r.status::text, '-') = ANY(%(status)s::text[])
       AND d.stream ~* ALL(%(stream_re)s::text[]) AND NOT d.stream ~* ANY(%(stream_not)s::text[])
       AND d.rule_ref ~* ALL(%(rule_re)s::text[]) AND NOT d.rule_ref ~* ANY(%(rule_not)s::text[])
       AND concat_ws(' ', d.id, d.severity, d.stream, d.rule_ref, d.kind,
                     coalesce(r.status::text, '-'), d.summary) ~* ALL(%(words_re)s::text[])
       AND NOT concat_ws(' ', d.id, d.severity, d.stream, d.rule_ref, d.kind,
                         coalesce(r.status::text, '-'), d.summary)
           ~* ANY(%(words_not)s::text[])
       AND NOT %(nothing)s
     LIMIT %(cap)s) x

-- name: detection
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now)
SELECT d.id, d.severity::text AS severity, d.stream, d.rule_ref AS rule, d.kind, d.summary,
       d.first_seen, d.last_seen, d.cleared_at, d.run_id, d.anchor_event_id,
       r.id AS recommendation_id, r.status::text AS recommendation_status,
       r.shelf_id, r.suppressed_by, r.text AS recommendation_text,
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

-- name: journal
-- A recommendation's journal, oldest first (ix_finding_journal_recommendation);
-- `known` says whether the recommendation exists.
SELECT j.id, j.at, j.actor, j.from_state, j.to_state, j.comment
  FROM finding_journal j
 WHERE j.recommendation_id = %(recommendation_id)s
 ORDER BY j.id
 LIMIT %(limit)s

-- name: recommendation_known
SELECT EXISTS (SELECT 1 FROM recommendation WHERE id = %(recommendation_id)s) AS known

-- name: run_counts
-- Runs by stored status for the API's stats: the active ones on ix_run_active,
-- dead and failed on ix_run_failing, succeeded ones counted up to the cap; and
-- how long the longest-waiting due queued run has been claimable.
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now)
SELECT (SELECT count(*) FROM (SELECT 1 FROM run WHERE status = 'succeeded' LIMIT %(cap)s) x)
           AS succeeded,
       (SELECT count(*) FROM (SELECT 1 FROM run WHERE status = 'failed' LIMIT %(cap)s) x)
           AS failed,
       extract(epoch FROM clock.now - (SELECT min(not_before) FROM run
                                        WHERE status = 'queued'
                                          AND not_before <= clock.now))::float8
           AS oldest_queued_age
  FROM clock

-- name: run_detections
-- The detections a run wrote (ix_detection_run), by id, after after_id.
SELECT id FROM detection
 WHERE run_id = %(run_id)s AND id > coalesce(%(after_id)s::bigint, 0)
 ORDER BY id
 LIMIT %(limit)s

-- name: api_tokens
-- The API's bearer tokens (never their hashes), live ones first, by name.
SELECT id, name, ARRAY(SELECT jsonb_array_elements_text(scopes)) AS scopes,
       created, last_used_at, revoked_at
  FROM api_token
 ORDER BY revoked_at IS NOT NULL, name, id

-- name: shelves
-- The shelves, live ones first (ix_shelf_live), then the latest ended or
-- expired ones, newest first (all of them only when asked), each with how
-- many findings it holds now: its open recommendations (the partial index of
-- what is open, one walk for all of them).
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now),
picked AS (
    (SELECT s.*, true AS live FROM shelf s, clock
      WHERE s.ended_at IS NULL AND s.expires_at > clock.now
      ORDER BY s.expires_at, s.id)
    UNION ALL
    (SELECT s.*, false AS live FROM shelf s, clock
      WHERE %(everything)s AND (s.ended_at IS NOT NULL OR s.expires_at <= clock.now)
      ORDER BY s.id DESC LIMIT %(limit)s)
), held AS (
    SELECT shelf_id, count(*)::int AS n FROM recommendation
     WHERE status = 'open' AND shelf_id IN (SELECT id FROM picked)
     GROUP BY shelf_id
)
SELECT p.id, p.stream_glob, p.rule_glob, p.severity::text AS severity, p.reason, p.actor,
       p.created, p.expires_at, p.ended_at, p.ended_by,
       CASE WHEN p.live THEN 'live' WHEN p.ended_at IS NULL THEN 'expired'
            WHEN p.ended_by = 'system' THEN 'expired' ELSE 'unshelved' END AS state,
       CASE WHEN p.live THEN extract(epoch FROM p.expires_at - clock.now)::float8 END
           AS expires_in,
       extract(epoch FROM clock.now - p.created)::float8 AS age,
       coalesce(h.n, 0) AS findings
  FROM picked p
 CROSS JOIN clock
  LEFT JOIN held h ON h.shelf_id = p.id
 ORDER BY p.live DESC, CASE WHEN p.live THEN p.expires_at END, p.id DESC

-- name: notifications
-- The notification outbox, newest first; `statuses` empty: every status.
SELECT n.id, n.status::text AS status, n.kind::text AS kind, n.route, n.channel,
       n.payload->>'severity' AS severity, n.payload->>'stream' AS stream,
       n.payload->>'rule' AS rule, n.recommendation_id, n.attempts, n.max_attempts,
       n.idempotency_key, n.last_error, n.created, n.not_before, n.sent_at,
       w.name AS lease_owner
  FROM notification n
  LEFT JOIN worker w ON w.id = n.lease_owner
 WHERE cardinality(%(statuses)s::text[]) = 0 OR n.status::text = ANY(%(statuses)s::text[])
 ORDER BY n.id DESC
 LIMIT %(limit)s

-- name: completions
-- Run-completion records since a time, newest first (the envelope for
-- `completions verify`, its payload decoded by the reader).
SELECT c.id, c.run_id, c.stream, c.fence, c.signed, c.key_id, c.created, c.envelope
  FROM completion c
 WHERE (%(since)s::timestamptz IS NULL OR c.created >= %(since)s::timestamptz)
   AND (%(run_id)s::bigint IS NULL OR c.run_id = %(run_id)s::bigint)
 ORDER BY c.id DESC
 LIMIT %(limit)s

-- name: replica_lag
-- How far the server read from is behind its primary, in seconds; NULL on a
-- primary. A standby that streams and has replayed all it received is 0: a
-- quiet primary sends nothing, so the age of the last replayed transaction
-- alone would show a lag where there is none. Otherwise that age it is.
SELECT CASE
         WHEN NOT pg_is_in_recovery() THEN NULL
         WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
              AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')
           THEN 0.0
         ELSE greatest(0.0, extract(epoch FROM clock_timestamp()
                                         - pg_last_xact_replay_timestamp()))::float
       END AS lag
