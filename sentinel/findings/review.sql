-- name: lock
-- The recommendation and its detection, locked: the detection first (the
-- findings store's order), so a pass clearing the episode meanwhile is seen.
SELECT r.id, r.status::text AS status, d.cleared_at IS NOT NULL AS cleared,
       r.shelf_id IS NOT NULL AS shelved, r.suppressed_by IS NOT NULL AS suppressed
  FROM detection d
  JOIN recommendation r ON r.detection_id = d.id
 WHERE d.id = (SELECT detection_id FROM recommendation WHERE id = %(id)s)
   FOR UPDATE OF d, r

-- name: set_status
-- A person's review: the recommendation's status and `updated` change, and
-- it leaves its shelf or its suppression (a person has it in hand now: when
-- the shelf ends or the suppressor clears, nothing more happens to it).
UPDATE recommendation
   SET status = %(status)s, updated = now(), shelf_id = NULL, suppressed_by = NULL
 WHERE id = %(id)s

-- name: journal
-- The change, on the database clock (finding_journal is append-only).
INSERT INTO finding_journal (recommendation_id, actor, from_state, to_state, comment)
VALUES (%(id)s, %(actor)s, %(from_state)s, %(to_state)s, %(comment)s)

-- name: notify
SELECT pg_notify(%(channel)s, %(payload)s)
