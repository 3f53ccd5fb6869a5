-- name: insert_detection
-- The fingerprint is the detection's identity: a retried, replayed or racing
-- pass finds it already there and writes nothing.
INSERT INTO detection (run_id, rule_ref, stream, kind, severity, summary, fingerprint,
                       anchor_event_id, first_seen, last_seen)
VALUES (%(run_id)s, %(rule_ref)s, %(stream)s, %(kind)s, %(severity)s, %(summary)s,
        %(fingerprint)s, %(anchor_event_id)s, %(first_seen)s, %(last_seen)s)
ON CONFLICT (fingerprint) DO NOTHING
RETURNING id

-- name: insert_evidence
INSERT INTO evidence (detection_id, kind, event_id, data)
VALUES (%(detection_id)s, %(kind)s, %(event_id)s, %(data)s)

-- name: insert_recommendation
INSERT INTO recommendation (detection_id, severity, text)
VALUES (%(detection_id)s, %(severity)s, %(text)s)
ON CONFLICT (detection_id) DO NOTHING
