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
-- episode never re-opens (a new one is a new fingerprint).
WITH found AS (
    SELECT DISTINCT ON (fingerprint) *
      FROM jsonb_to_recordset(%(findings)s)
           AS f(n int, rule_ref text, stream text, kind text, severity severity, summary text,
                fingerprint text, anchor_event_id bigint, first_seen timestamptz,
                last_seen timestamptz, cleared boolean, evidence jsonb, recommendation text)
     ORDER BY fingerprint, n DESC
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
    RETURNING id, fingerprint, severity, stream, (xmax = 0) AS inserted
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
    RETURNING 1
)
SELECT ARRAY(SELECT severity::text FROM new) AS severities,
       (SELECT count(*) FROM new_evidence WHERE detection_id IN (SELECT id FROM new)) AS evidence,
       (SELECT count(*) FROM written WHERE NOT inserted) AS updated,
       (SELECT count(*) FROM new_recommendations) AS recommendations
