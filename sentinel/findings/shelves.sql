-- name: clock
-- The database clock a shelf is written against (pinned in tests).
SELECT coalesce(%(now)s::timestamptz, now()) AS now

-- name: insert
INSERT INTO shelf (stream_glob, rule_glob, severity, reason, actor, created, expires_at)
VALUES (%(stream_glob)s, %(rule_glob)s, %(severity)s, %(reason)s, %(actor)s,
        %(created)s, %(expires_at)s)
RETURNING id, stream_glob, rule_glob, severity::text AS severity, reason, actor, created,
          expires_at, ended_at, ended_by

-- name: live
-- The shelves in force at the database clock (ix_shelf_live): not ended and
-- not past their expiry, whether or not the expiry is processed yet. The one
-- expiring last first: a finding two shelves match goes on the longer one.
SELECT id, stream_glob, rule_glob, severity::text AS severity, reason, actor, created,
       expires_at, ended_at, ended_by
  FROM shelf
 WHERE ended_at IS NULL AND expires_at > coalesce(%(now)s::timestamptz, now())
 ORDER BY expires_at DESC, id DESC

-- name: lock
-- One shelf, locked: an unshelve and the expiry of the same shelf are one
-- after the other, and the second sees it ended.
SELECT id, stream_glob, rule_glob, severity::text AS severity, reason, actor, created,
       expires_at, ended_at, ended_by
  FROM shelf
 WHERE id = %(id)s
   FOR UPDATE

-- name: expired
-- The shelves past their expiry and not ended yet, locked; SKIP LOCKED: the
-- maintenance of several workers shares them out, each ends a shelf once.
SELECT id, stream_glob, rule_glob, severity::text AS severity, reason, actor, created,
       expires_at, ended_at, ended_by
  FROM shelf
 WHERE ended_at IS NULL AND expires_at <= coalesce(%(now)s::timestamptz, now())
 ORDER BY expires_at, id
   FOR UPDATE SKIP LOCKED

-- name: end
UPDATE shelf
   SET ended_at = coalesce(%(now)s::timestamptz, now()), ended_by = %(actor)s
 WHERE id = ANY(%(ids)s::bigint[])
RETURNING id, stream_glob, rule_glob, severity::text AS severity, reason, actor, created,
          expires_at, ended_at, ended_by

-- name: covered
-- The still-active findings on these shelves, with their detections, locked
-- in the review's order (detection, then recommendation), so a pass clearing
-- one meanwhile or a person's review is seen as it is now. Shelved findings
-- are open (a review takes a finding off its shelf), so they are walked on
-- the partial index of open recommendations, not the whole history.
SELECT r.id, r.shelf_id, d.stream, d.rule_ref, r.severity::text AS severity,
       r.suppressed_by IS NOT NULL AS suppressed
  FROM recommendation r
  JOIN detection d ON d.id = r.detection_id
 WHERE r.status = 'open' AND r.shelf_id = ANY(%(ids)s::bigint[]) AND d.cleared_at IS NULL
 ORDER BY d.id
   FOR UPDATE OF d, r

-- name: release
-- The covered findings leave their ended shelf: onto another live shelf that
-- matches them (no change of state), or off every shelf, journaled (from
-- shelved to suppressed when a finding that suppresses it is still active,
-- else unacknowledged-active) with the actor and comment given.
WITH moves AS (
    SELECT * FROM jsonb_to_recordset(%(moves)s) AS m(id bigint, shelf_id bigint)
), moved AS (
    UPDATE recommendation r
       SET shelf_id = moves.shelf_id, updated = coalesce(%(now)s::timestamptz, now())
      FROM moves
     WHERE r.id = moves.id
    RETURNING r.id, r.shelf_id, r.suppressed_by
), journaled AS (
    INSERT INTO finding_journal (recommendation_id, at, actor, from_state, to_state, comment)
    SELECT id, coalesce(%(now)s::timestamptz, now()), %(actor)s, 'shelved',
           CASE WHEN suppressed_by IS NOT NULL THEN 'suppressed'
                ELSE 'unacknowledged-active' END,
           %(comment)s
      FROM moved
     WHERE shelf_id IS NULL
     ORDER BY id
    RETURNING recommendation_id
)
SELECT (SELECT count(*) FROM journaled)::int AS released,
       (SELECT count(*) FROM moved WHERE shelf_id IS NOT NULL)::int AS moved

-- name: notify
SELECT pg_notify(%(channel)s, '')
