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
WITH found AS (
    SELECT DISTINCT ON (fingerprint) *
      FROM jsonb_to_recordset(%(findings)s)
           AS f(n int, rule_ref text, stream text, kind text, severity severity, summary text,
                fingerprint text, anchor_event_id bigint, first_seen timestamptz,
                last_seen timestamptz, cleared boolean, evidence jsonb, recommendation text)
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
    RETURNING id, fingerprint, severity, stream, cleared_at, (xmax = 0) AS inserted
), new AS (
    SELECT * FROM written WHERE inserted
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
    INSERT INTO recommendation (detection_id, stream, severity, text)
    SELECT new.id, new.stream, new.severity, found.recommendation
      FROM new JOIN found USING (fingerprint)
     ORDER BY found.n
    RETURNING id, detection_id
), opened AS (
    INSERT INTO finding_journal (recommendation_id, actor, from_state, to_state)
    SELECT r.id, 'system', NULL,
           CASE WHEN new.cleared_at IS NULL THEN 'unacknowledged-active'
                ELSE 'unacknowledged-cleared' END
      FROM new_recommendations r JOIN new ON new.id = r.detection_id
     ORDER BY r.id
), clearing AS (
    -- Locked, so a review committed meanwhile is read as it is now (the
    -- review locks the detection first: one order, no deadlock).
    SELECT r.id, r.status FROM recommendation r
     WHERE r.detection_id IN (
           SELECT written.id FROM written JOIN prior USING (id)
            WHERE NOT written.inserted AND written.cleared_at IS NOT NULL
              AND prior.cleared_at IS NULL)
       FOR UPDATE
), cleared AS (
    INSERT INTO finding_journal (recommendation_id, actor, from_state, to_state)
    -- (a dismissed finding stays dismissed: its clearing changes no state)
    SELECT id, 'system',
           CASE status WHEN 'open' THEN 'unacknowledged-active' ELSE 'acknowledged-active' END,
           CASE status WHEN 'open' THEN 'unacknowledged-cleared' ELSE 'done' END
      FROM clearing
     WHERE status <> 'dismissed'
     ORDER BY id
)
SELECT ARRAY(SELECT severity::text FROM new) AS severities,
       (SELECT count(*) FROM new_evidence WHERE detection_id IN (SELECT id FROM new)) AS evidence,
       (SELECT count(*) FROM written WHERE NOT inserted) AS updated,
       (SELECT count(*) FROM new_recommendations) AS recommendations
