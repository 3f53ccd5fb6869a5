-- name: finding_targets
-- The findings a pass just wrote, as stored now (in its transaction): their
-- review, shelf and suppression, whether this transaction inserted them
-- (created is the transaction's now()), and where they were told already.
-- `told`: firing or repeat notifications that went or may still go out;
-- `resolved`: cleared notices written.
SELECT d.id AS detection_id, d.fingerprint, d.rule_ref, d.stream, d.severity::text AS severity,
       d.summary, d.first_seen, d.last_seen, d.cleared_at, d.created = now() AS new,
       r.id AS recommendation_id, r.text, r.status::text AS status,
       r.shelf_id, r.suppressed_by,
       coalesce((SELECT jsonb_agg(jsonb_build_array(n.route, n.channel)) FROM notification n
                  WHERE n.detection_id = d.id AND n.kind IN ('firing', 'repeat')
                    AND n.status IN ('queued', 'sending', 'sent', 'failed')), '[]') AS told,
       coalesce((SELECT jsonb_agg(jsonb_build_array(n.route, n.channel)) FROM notification n
                  WHERE n.detection_id = d.id AND n.kind = 'resolved'), '[]') AS resolved
  FROM detection d
  JOIN recommendation r ON r.detection_id = d.id
 WHERE d.fingerprint = ANY(%(fingerprints)s)

-- name: enqueue
-- New notifications, once each (the idempotency key). A notification joins
-- the message of a pending one of its group (due at the same time), else it
-- waits the route's group wait for others to join it.
INSERT INTO notification (detection_id, recommendation_id, route, channel, kind,
                          idempotency_key, group_key, max_attempts, not_before, payload)
SELECT x.detection_id, x.recommendation_id, x.route, x.channel, x.kind::notification_kind,
       x.idempotency_key, x.group_key, %(max_attempts)s,
       CASE WHEN pending.at IS NULL THEN clock.now + make_interval(secs => x.wait)
            ELSE greatest(pending.at, clock.now) END,
       x.payload
  FROM jsonb_to_recordset(%(rows)s)
       AS x(n int, detection_id bigint, recommendation_id bigint, route text, channel text,
            kind text, idempotency_key text, group_key text, wait float8, payload jsonb),
       (SELECT coalesce(%(now)s::timestamptz, now()) AS now) clock,
       LATERAL (SELECT min(p.not_before) AS at FROM notification p
                 WHERE p.group_key = x.group_key AND p.kind = x.kind::notification_kind
                   AND p.status = 'queued' AND p.batch_key IS NULL) pending
 ORDER BY x.n
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id

-- name: enqueue_repeats
-- The cooldown: a finding still active, open (not acknowledged or
-- dismissed), not shelved and not suppressed, whose latest firing or repeat
-- on a (route, channel) went out (or died) at least that pair's interval
-- ago, is told again. The repeat's number is in its key, so any number of
-- workers running this at once write it once.
WITH clock AS (
    SELECT coalesce(%(now)s::timestamptz, now()) AS now
), every AS (
    SELECT * FROM jsonb_to_recordset(%(intervals)s) AS e(route text, channel text, secs float8)
     WHERE secs > 0
), latest AS (
    SELECT DISTINCT ON (n.detection_id, n.route, n.channel) n.*
      FROM notification n
      JOIN every e ON e.route = n.route AND e.channel = n.channel
     WHERE n.kind IN ('firing', 'repeat')
     ORDER BY n.detection_id, n.route, n.channel, n.id DESC
), due AS (
    SELECT l.*, d.fingerprint, d.last_seen AS seen,
           coalesce((l.payload->>'repeat')::int, 0) + 1 AS nth
      FROM latest l
      JOIN every e ON e.route = l.route AND e.channel = l.channel
      JOIN detection d ON d.id = l.detection_id AND d.cleared_at IS NULL
      JOIN recommendation r ON r.id = l.recommendation_id
     CROSS JOIN clock
     WHERE r.status = 'open' AND r.shelf_id IS NULL AND r.suppressed_by IS NULL
       AND l.status IN ('sent', 'dead')
       AND coalesce(l.sent_at, l.created) + make_interval(secs => e.secs) <= clock.now
), keyed AS (
    SELECT due.*,
           'sn-' || left(encode(sha256(convert_to(concat_ws(chr(31), fingerprint, route,
                                channel, 'repeat', nth::text), 'UTF8')), 'hex'), 40) AS key
      FROM due
)
INSERT INTO notification (detection_id, recommendation_id, route, channel, kind,
                          idempotency_key, group_key, max_attempts, not_before, payload)
SELECT k.detection_id, k.recommendation_id, k.route, k.channel, 'repeat', k.key,
       CASE WHEN k.group_key LIKE 'group:%%' THEN k.group_key ELSE k.key END,
       %(max_attempts)s, clock.now,
       k.payload || jsonb_build_object('repeat', k.nth, 'last_seen', k.seen)
  FROM keyed k CROSS JOIN clock
 ORDER BY k.id
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id

-- name: skip_stale
-- What is no longer worth telling before it goes out: a firing or repeat
-- whose finding was acknowledged, dismissed, shelved or suppressed meanwhile
-- (a repeat also once cleared), and a cleared notice where nobody was told
-- the finding fired.
UPDATE notification n
   SET status = 'skipped', lease_expires_at = NULL,
       last_error = CASE
           WHEN n.kind = 'resolved' THEN 'not told it fired'
           WHEN r.shelf_id IS NOT NULL THEN 'shelved before delivery'
           WHEN r.suppressed_by IS NOT NULL THEN 'suppressed before delivery'
           WHEN r.status <> 'open' THEN r.status::text || ' before delivery'
           ELSE 'cleared before delivery' END
  FROM recommendation r, detection d
 WHERE r.id = n.recommendation_id AND d.id = n.detection_id
   AND n.status IN ('queued', 'failed')
   AND ((n.kind IN ('firing', 'repeat')
         AND (r.status <> 'open' OR r.shelf_id IS NOT NULL OR r.suppressed_by IS NOT NULL
              OR (n.kind = 'repeat' AND d.cleared_at IS NOT NULL)))
        OR (n.kind = 'resolved'
            AND NOT EXISTS (SELECT 1 FROM notification f
                             WHERE f.detection_id = n.detection_id AND f.route = n.route
                               AND f.channel = n.channel AND f.kind IN ('firing', 'repeat')
                               AND f.status IN ('queued', 'sending', 'sent', 'failed'))))
RETURNING n.id

-- name: requeue_expired
-- A delivery whose worker died (or stalled past its lease) is due again at
-- once; the attempt it spent counts. Fenced by the lease's expiry.
UPDATE notification
   SET status = 'failed', lease_owner = NULL, lease_expires_at = NULL,
       not_before = coalesce(%(now)s::timestamptz, now()),
       last_error = coalesce(last_error, 'lease expired during delivery')
 WHERE status = 'sending' AND lease_expires_at <= coalesce(%(now)s::timestamptz, now())
RETURNING id

-- name: claim
-- One message: the oldest due notification, not behind an undelivered
-- earlier one of the same finding and channel (a cleared notice never
-- overtakes its firing), with every due notification of its group and kind;
-- or, if it went out before in a message, that message's members again
-- (batch_key), so a redelivery is the same message under the same key.
-- SKIP LOCKED: workers claim different messages.
WITH clock AS (
    SELECT coalesce(%(now)s::timestamptz, now()) AS now
), lead AS (
    SELECT n.id, n.group_key, n.kind, n.batch_key, n.idempotency_key
      FROM notification n, clock
     WHERE n.status IN ('queued', 'failed') AND n.not_before <= clock.now
       AND NOT EXISTS (SELECT 1 FROM notification e
                        WHERE e.detection_id = n.detection_id AND e.route = n.route
                          AND e.channel = n.channel AND e.id < n.id
                          AND e.status IN ('queued', 'sending', 'failed'))
     ORDER BY n.not_before, n.id
     LIMIT 1
       FOR UPDATE OF n SKIP LOCKED
), members AS (
    SELECT n.id
      FROM notification n, lead, clock
     WHERE n.id = lead.id
        OR (n.status IN ('queued', 'failed') AND n.not_before <= clock.now
            AND ((lead.batch_key IS NOT NULL AND n.batch_key = lead.batch_key)
                 OR (lead.batch_key IS NULL AND n.batch_key IS NULL
                     AND n.group_key = lead.group_key AND n.kind = lead.kind)))
     ORDER BY n.id
     LIMIT %(max_batch)s
       FOR UPDATE OF n SKIP LOCKED
)
UPDATE notification n
   SET status = 'sending',
       lease_owner = %(worker_id)s,
       lease_expires_at = clock.now + make_interval(secs => %(lease)s),
       attempts = n.attempts + 1,
       batch_key = coalesce(lead.batch_key, lead.idempotency_key)
  FROM members, lead, clock
 WHERE n.id = members.id
RETURNING n.id, n.detection_id, n.recommendation_id, n.route, n.channel, n.kind::text AS kind,
          n.idempotency_key, n.batch_key, n.attempts, n.max_attempts, n.payload, n.created,
          clock.now AS db_now

-- name: sent
-- Fenced: only the lease holder's delivery counts.
UPDATE notification
   SET status = 'sent', sent_at = coalesce(%(now)s::timestamptz, now()),
       lease_expires_at = NULL, last_error = NULL
 WHERE id = ANY(%(ids)s) AND lease_owner = %(worker_id)s AND status = 'sending'
RETURNING id, extract(epoch FROM sent_at - created)::float8 AS latency

-- name: failed
-- Retried after a backoff, or dead once out of attempts (at once for a
-- permanent refusal); the error is kept either way.
UPDATE notification
   SET status = CASE WHEN %(permanent)s OR attempts >= max_attempts
                     THEN 'dead'::notification_status ELSE 'failed'::notification_status END,
       not_before = coalesce(%(now)s::timestamptz, now()) + make_interval(secs => %(delay)s),
       lease_expires_at = NULL,
       last_error = %(error)s
 WHERE id = ANY(%(ids)s) AND lease_owner = %(worker_id)s AND status = 'sending'
RETURNING id, status::text

-- name: skip
UPDATE notification
   SET status = 'skipped', lease_expires_at = NULL, last_error = %(reason)s
 WHERE id = ANY(%(ids)s) AND lease_owner = %(worker_id)s AND status = 'sending'
RETURNING id

-- name: retry
-- An operator's retry: due now with its attempts back to zero, and out of
-- its old message (it keeps its own idempotency key).
UPDATE notification
   SET status = 'queued', attempts = 0, not_before = coalesce(%(now)s::timestamptz, now()),
       last_error = NULL, batch_key = NULL, lease_owner = NULL, lease_expires_at = NULL
 WHERE id = %(id)s AND status IN ('failed', 'dead', 'skipped')
RETURNING id

-- name: status
SELECT status::text FROM notification WHERE id = %(id)s

-- name: depth
-- The outbox's backlog for the metrics: undelivered notifications and the
-- age of the oldest, on the database clock.
SELECT count(*) AS depth,
       coalesce(extract(epoch FROM coalesce(%(now)s::timestamptz, now()) - min(created)), 0)::float8
           AS oldest_age
  FROM notification
 WHERE status IN ('queued', 'sending', 'failed')

-- name: prune
-- Retention: finished notifications of findings that are over (cleared, or
-- reviewed), in small batches; those of an active finding stay, the repeat
-- interval counts from them.
DELETE FROM notification WHERE id IN (
    SELECT n.id FROM notification n
      JOIN detection d ON d.id = n.detection_id
      JOIN recommendation r ON r.id = n.recommendation_id
     WHERE n.status IN ('sent', 'skipped', 'dead')
       AND n.created < coalesce(%(now)s::timestamptz, now()) - make_interval(secs => %(older_than)s)
       AND (d.cleared_at IS NOT NULL OR r.status <> 'open')
     LIMIT %(batch)s
)
