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
SELECT pg_notify(%(channel)s, %(payload)s)
