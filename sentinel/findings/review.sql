-- name: set_status
-- A person's review: only the recommendation's status and `updated` change.
-- Setting the status it already has changes nothing.
UPDATE recommendation
   SET status = %(status)s, updated = now()
 WHERE id = %(id)s AND status <> %(status)s::recommendation_status
RETURNING id, status::text AS status

-- name: get
SELECT id, status::text AS status FROM recommendation WHERE id = %(id)s

-- name: notify
SELECT pg_notify('sentinel_recommendation', %(payload)s)

-- name: list
-- For `sentinel recommendations list`: newest first, optional filters.
SELECT r.id, r.severity::text AS severity, d.stream, d.rule_ref AS rule, r.status::text AS status,
       r.text, r.created, r.updated,
       extract(epoch FROM now() - r.created)::float8 AS age,
       r.detection_id
  FROM recommendation r
  JOIN detection d ON d.id = r.detection_id
 WHERE (%(status)s::recommendation_status IS NULL OR r.status = %(status)s)
   AND (%(severity)s::severity IS NULL OR r.severity = %(severity)s)
   AND (%(stream_like)s::text IS NULL OR d.stream LIKE %(stream_like)s)
 ORDER BY r.created DESC, r.id DESC
 LIMIT %(limit)s
