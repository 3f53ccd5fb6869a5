-- name: write_findings
-- A pass's findings in one statement. The fingerprint is a detection's
-- identity: an episode is reported again at each pass that sees it open,
-- and a retried, replayed or racing pass reports it again too, so a known
-- fingerprint updates its detection (last_seen, severity, summary; the
-- evidence replaced) instead of adding one, unless the report is older than
-- what is stored (a replay's earlier steps). first_seen, the anchor and the
-- one recommendation stay as the episode opened. Within a pass the newest
-- report of each fingerprint (highest n) wins. `cleared_at` is when the store
-- first saw the episode cleared (the database clock), kept once set: an
-- episode never re-opens (a new one is a new fingerprint). Each finding opened
-- and each episode seen cleared for the first time is a row of the journal
-- (actor `system`), its states as sentinel.types.finding_state names them.
-- The statement's snapshot (`prior`) holds what was stored before it; a
-- stream's passes are one at a time (the lease), so no two see it uncleared.
-- A new finding enters shelved when the caller found a live shelf for it
-- (`shelf_id`), and suppressed when a finding of one of its `suppressors`
-- (the rules whose `suppresses:` names it) is active on its stream after this
-- statement and opened no later than it: stored before, or written by this
-- very statement (the two fired in one pass). Its opening row says so.
WITH found AS (
    SELECT DISTINCT ON (fingerprint) *
      FROM jsonb_to_recordset(%(findings)s)
           AS f(n int, rule_ref text, stream text, kind text, severity severity, summary text,
                fingerprint text, anchor_event_id bigint, first_seen timestamptz,
                last_seen timestamptz, cleared boolean, evidence jsonb, recommendation text,
                shelf_id bigint, suppressors text[])
     ORDER BY fingerprint, n DESC
), prior AS (
    SELECT d.id, d.cleared_at FROM detection d JOIN found USING (fingerprint)
), written AS (
    INSERT INTO detection AS d (run_id, rule_ref, stream, kind, severity, summary, fingerprint,
                                anchor_event_id, first_seen, last_seen, cleared_at)
    SELECT %(run_id)s, rule_ref, stream, kind, severity, summary, fingerprint,
           anchor_event_id, first_seen, last_seen, CASE WHEN cleared THEN now() END
      FROM found ORDER BY n
        ON CONFLICT (fingerprint) DO UPDATE
       SET last_seen = EXCLUDED.last_seen,
           severity = EXCLUDED.severity,
           summary = EXCLUDED.summary,
           cleared_at = coalesce(d.cleared_at, EXCLUDED.cleared_at)
     WHERE d.last_seen <= EXCLUDED.last_seen
    RETURNING id, fingerprint, severity, stream, rule_ref, first_seen, cleared_at,
              (xmax = 0) AS inserted
), new AS (
    SELECT * FROM written WHERE inserted
), suppressor AS (
    SELECT DISTINCT ON (new.id) new.id AS detection_id, c.id, c.rule_ref
      FROM new JOIN found USING (fingerprint)
     CROSS JOIN LATERAL (
           SELECT w.id, w.rule_ref, w.first_seen FROM written w
            WHERE w.stream = new.stream AND w.rule_ref = ANY(found.suppressors)
              AND w.cleared_at IS NULL
           UNION ALL
           -- stored before and not written again by this statement (else above)
           SELECT d.id, d.rule_ref, d.first_seen FROM detection d
            WHERE d.stream = new.stream AND d.rule_ref = ANY(found.suppressors)
              AND d.cleared_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM written w WHERE w.id = d.id)) c
     WHERE cardinality(found.suppressors) > 0
       AND c.id <> new.id AND c.first_seen <= new.first_seen
     ORDER BY new.id, c.first_seen, c.id
), old_evidence AS (
    -- The statement's snapshot: only the evidence there before it.
    DELETE FROM evidence
     WHERE detection_id IN (SELECT id FROM written WHERE NOT inserted)
), new_evidence AS (
    INSERT INTO evidence (detection_id, kind, event_id, data)
    SELECT written.id, e.kind, e.event_id, e.data
      FROM written JOIN found USING (fingerprint)
           CROSS JOIN LATERAL jsonb_to_recordset(found.evidence)
           AS e(i int, kind text, event_id bigint, data jsonb)
     ORDER BY found.n, e.i
    RETURNING detection_id
), new_recommendations AS (
    INSERT INTO recommendation (detection_id, stream, severity, text, shelf_id, suppressed_by)
    SELECT new.id, new.stream, new.severity, found.recommendation, found.shelf_id, s.id
      FROM new JOIN found USING (fingerprint)
      LEFT JOIN suppressor s ON s.detection_id = new.id
     ORDER BY found.n
    RETURNING id, detection_id, shelf_id, suppressed_by
), opened AS (
    INSERT INTO finding_journal (recommendation_id, actor, from_state, to_state, comment)
    SELECT r.id, 'system', NULL,
           CASE WHEN r.shelf_id IS NOT NULL THEN 'shelved'
                WHEN r.suppressed_by IS NOT NULL THEN 'suppressed'
                WHEN new.cleared_at IS NULL THEN 'unacknowledged-active'
                ELSE 'unacknowledged-cleared' END,
           nullif(concat_ws('; ',
                  (SELECT 'shelf ' || shelf.id || ': ' || shelf.reason
                     FROM shelf WHERE shelf.id = r.shelf_id),
                  'suppressed by detection ' || s.id || ' (' || s.rule_ref || ')'), '')
      FROM new_recommendations r JOIN new ON new.id = r.detection_id
      LEFT JOIN suppressor s ON s.detection_id = r.detection_id
     ORDER BY r.id
), clearing AS (
    -- Locked, so a review committed meanwhile is read as it is now (the
    -- review locks the detection first: one order, no deadlock).
    SELECT r.id, r.status, r.shelf_id, r.suppressed_by FROM recommendation r
     WHERE r.detection_id IN (
           SELECT written.id FROM written JOIN prior USING (id)
            WHERE NOT written.inserted AND written.cleared_at IS NOT NULL
              AND prior.cleared_at IS NULL)
       FOR UPDATE
), cleared AS (
    INSERT INTO finding_journal (recommendation_id, actor, from_state, to_state)
    -- (a dismissed, shelved or suppressed finding stays so: its clearing
    -- changes no state)
    SELECT id, 'system',
           CASE status WHEN 'open' THEN 'unacknowledged-active' ELSE 'acknowledged-active' END,
           CASE status WHEN 'open' THEN 'unacknowledged-cleared' ELSE 'done' END
      FROM clearing
     WHERE status <> 'dismissed' AND shelf_id IS NULL AND suppressed_by IS NULL
     ORDER BY id
)
SELECT ARRAY(SELECT severity::text FROM new) AS severities,
       -- the detections whose episode this statement saw end: what they
       -- suppressed is released (release_suppressed)
       ARRAY(SELECT written.id FROM written JOIN prior USING (id)
              WHERE NOT written.inserted AND written.cleared_at IS NOT NULL
                AND prior.cleared_at IS NULL) AS cleared_ids,
       (SELECT count(*) FROM new_evidence WHERE detection_id IN (SELECT id FROM new)) AS evidence,
       (SELECT count(*) FROM written WHERE NOT inserted) AS updated,
       (SELECT count(*) FROM new_recommendations) AS recommendations

-- name: release_suppressed
-- The episode of these detections ended: the findings they suppressed that
-- are still active are suppressed no more (and new ones are not, as the
-- suppressor is cleared). Each becomes unacknowledged, journaled (actor
-- `system`), unless it is shelved too: then its state stays shelved. A
-- suppressed finding is open (a review ends its suppression) and on its
-- suppressor's stream, so they are found on the partial index of open
-- recommendations by stream; one a review took meanwhile is re-checked
-- after its lock and left alone.
WITH released AS (
    UPDATE recommendation r
       SET suppressed_by = NULL, updated = now()
      FROM detection d
     WHERE r.stream = ANY(%(streams)s::text[]) AND r.status = 'open'
       AND r.suppressed_by = ANY(%(cleared)s::bigint[])
       AND d.id = r.detection_id AND d.cleared_at IS NULL
    RETURNING r.id, r.shelf_id
), journaled AS (
    INSERT INTO finding_journal (recommendation_id, actor, from_state, to_state, comment)
    SELECT id, 'system', 'suppressed', 'unacknowledged-active', 'its suppressing finding cleared'
      FROM released
     WHERE shelf_id IS NULL
     ORDER BY id
    RETURNING recommendation_id
)
SELECT (SELECT count(*) FROM released)::int AS released
