-- name: alarm_findings
-- The report's period, read once: the findings opened in it (detection.first_seen
-- in [start, now), start = now - buckets × bucket_seconds) on the streams the
-- filter lets through. The annunciated ones (written neither shelved nor
-- suppressed) make every figure; shelved and suppressed ones are counted apart.
-- Per ten-minute window, oldest first: the count, and whether the window is in
-- a flood. A window with more than flood_start findings starts a flood, which
-- lasts until a window has fewer than flood_end: the windows below flood_end
-- cut the period into segments, and a window is in flood when it has at least
-- flood_end and some window of its segment, up to it, had more than flood_start.
-- Chattering: a rule and stream whose findings reach chatter_count within
-- chatter_seconds (a window of that length from each finding, both ends in).
-- Detection has no index on first_seen: this is one scan of it.
WITH span AS (
    SELECT c.now,
           c.now - make_interval(secs => %(buckets)s::int * %(bucket_seconds)s::int) AS start
      FROM (SELECT coalesce(%(now)s::timestamptz, now()) AS now) c
),
found AS MATERIALIZED (
    SELECT d.rule_ref, d.stream, d.severity, d.first_seen, r.shelf_id, r.suppressed_by,
           floor(extract(epoch FROM d.first_seen - span.start)
                 / %(bucket_seconds)s::int)::int AS i
      FROM detection d
      JOIN recommendation r ON r.detection_id = d.id
     CROSS JOIN span
     WHERE d.first_seen >= span.start AND d.first_seen < span.now
       AND d.stream ~* ALL(%(stream_re)s::text[])
),
annunciated AS (
    SELECT * FROM found WHERE shelf_id IS NULL AND suppressed_by IS NULL
),
series AS (
    SELECT g.i, count(a.i)::int AS n
      FROM generate_series(0, %(buckets)s::int - 1) g(i)
      LEFT JOIN annunciated a ON a.i = g.i
     GROUP BY g.i
),
segments AS (
    SELECT i, n, sum((n < %(flood_end)s::int)::int) OVER (ORDER BY i) AS segment FROM series
),
flooding AS (
    SELECT i, n,
           n >= %(flood_end)s::int
           AND bool_or(n > %(flood_start)s::int) OVER (PARTITION BY segment ORDER BY i)
               AS in_flood
      FROM segments
),
rules AS (
    SELECT rule_ref, count(*)::int AS n FROM annunciated
     GROUP BY rule_ref ORDER BY n DESC, rule_ref LIMIT %(top)s::int
),
bursts AS (
    SELECT rule_ref, stream,
           count(*) OVER (PARTITION BY rule_ref, stream ORDER BY first_seen
                          RANGE BETWEEN CURRENT ROW
                                    AND make_interval(secs => %(chatter_seconds)s::float8)
                                        FOLLOWING)
               AS in_window
      FROM annunciated
),
chattering AS (
    SELECT rule_ref, stream, count(*)::int AS findings, max(in_window)::int AS peak
      FROM bursts
     GROUP BY rule_ref, stream
    HAVING max(in_window) >= %(chatter_count)s::int
)
SELECT span.now, span.start,
       ARRAY(SELECT n FROM flooding ORDER BY i) AS per_bucket,
       ARRAY(SELECT in_flood FROM flooding ORDER BY i) AS flooding,
       (SELECT count(*) FROM found WHERE shelf_id IS NOT NULL)::int AS shelved,
       (SELECT count(*) FROM found WHERE suppressed_by IS NOT NULL)::int AS suppressed,
       (SELECT coalesce(jsonb_object_agg(shelf_id::text, n), '{}'::jsonb)
          FROM (SELECT shelf_id, count(*) AS n FROM found
                 WHERE shelf_id IS NOT NULL GROUP BY shelf_id) s) AS by_shelf,
       (SELECT coalesce(jsonb_agg(jsonb_build_array(rule_ref, n) ORDER BY n DESC, rule_ref),
                        '[]'::jsonb)
          FROM rules) AS rules,
       (SELECT coalesce(jsonb_object_agg(severity::text, n), '{}'::jsonb)
          FROM (SELECT severity, count(*) AS n FROM annunciated GROUP BY severity) s)
           AS by_severity,
       (SELECT count(*) FROM chattering)::int AS chattering_total,
       (SELECT coalesce(sum(findings), 0) FROM chattering)::int AS chattering_findings,
       (SELECT coalesce(jsonb_agg(jsonb_build_array(rule_ref, stream, findings, peak)
                                  ORDER BY peak DESC, findings DESC, rule_ref, stream),
                        '[]'::jsonb)
          FROM (SELECT * FROM chattering
                 ORDER BY peak DESC, findings DESC, rule_ref, stream LIMIT %(limit)s::int) c)
           AS chattering
  FROM span

-- name: alarm_stale
-- Stale findings: active (not cleared by `now`) and unacknowledged (open,
-- neither shelved nor suppressed) since more than stale_seconds before `now`,
-- whenever they opened; the oldest first, with how many there are in all.
-- Walks the open recommendations (ix_recommendation_open), one detection probe each.
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now)
SELECT r.id AS recommendation_id, d.id AS detection_id, d.rule_ref AS rule, d.stream,
       d.severity::text AS severity, d.first_seen,
       extract(epoch FROM clock.now - d.first_seen)::float8 AS age,
       count(*) OVER ()::int AS total
  FROM recommendation r
  JOIN detection d ON d.id = r.detection_id
 CROSS JOIN clock
 WHERE r.status = 'open' AND r.shelf_id IS NULL AND r.suppressed_by IS NULL
   AND (d.cleared_at IS NULL OR d.cleared_at > clock.now)
   AND d.first_seen < clock.now - make_interval(secs => %(stale_seconds)s::float8)
   AND r.stream ~* ALL(%(stream_re)s::text[])
 ORDER BY d.first_seen, d.id
 LIMIT %(limit)s::int

-- name: alarm_shelves
-- The shelves in force at `now` (not ended, not past their expiry, as
-- findings/shelves.sql `live` says: the partial ix_shelf_live), the oldest
-- first, with how many there are in all.
WITH clock AS (SELECT coalesce(%(now)s::timestamptz, now()) AS now)
SELECT s.id, s.stream_glob, s.rule_glob, s.severity::text AS severity, s.reason, s.actor,
       s.created, s.expires_at,
       extract(epoch FROM clock.now - s.created)::float8 AS age,
       extract(epoch FROM s.expires_at - clock.now)::float8 AS expires_in,
       count(*) OVER ()::int AS total
  FROM shelf s
 CROSS JOIN clock
 WHERE s.ended_at IS NULL AND s.expires_at > clock.now
 ORDER BY s.created, s.id
 LIMIT %(limit)s::int
