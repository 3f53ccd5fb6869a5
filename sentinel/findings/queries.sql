-- name: write_findings
-- A pass's findings in one statement. The fingerprint is a detection's
-- identity: a retried, replayed or racing pass finds it already there and
-- writes nothing for it, neither evidence nor recommendation.
WITH found AS (
    SELECT DISTINCT ON (fingerprint) *
      FROM jsonb_to_recordset(%(findings)s)
           AS f(n int, rule_ref text, stream text, kind text, severity severity, summary text,
                fingerprint text, anchor_event_id bigint, first_seen timestamptz,
                last_seen timestamptz, evidence jsonb, recommendation text)
     ORDER BY fingerprint, n
), new AS (
    INSERT INTO detection (run_id, rule_ref, stream, kind, severity, summary, fingerprint,
                           anchor_event_id, first_seen, last_seen)
    SELECT %(run_id)s, rule_ref, stream, kind, severity, summary, fingerprint,
           anchor_event_id, first_seen, last_seen
      FROM found ORDER BY n
        ON CONFLICT (fingerprint) DO NOTHING
    RETURNING id, fingerprint, severity, stream
), new_evidence AS (
    INSERT INTO evidence (detection_id, kind, event_id, data)
    SELECT new.id, e.kind, e.event_id, e.data
      FROM new JOIN found USING (fingerprint)
           CROSS JOIN LATERAL jsonb_to_recordset(found.evidence)
           AS e(i int, kind text, event_id bigint, data jsonb)
     ORDER BY found.n, e.i
    RETURNING 1
), new_recommendations AS (
    INSERT INTO recommendation (detection_id, stream, severity, text)
    SELECT new.id, new.stream, new.severity, found.recommendation
      FROM new JOIN found USING (fingerprint)
     ORDER BY found.n
    RETURNING 1
)
SELECT ARRAY(SELECT severity::text FROM new) AS severities,
       (SELECT count(*) FROM new_evidence) AS evidence,
       (SELECT count(*) FROM new_recommendations) AS recommendations
