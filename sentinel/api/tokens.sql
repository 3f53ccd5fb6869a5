-- name: create
-- A new bearer token: only its sha256 is kept. The name is unique among the
-- live tokens (ix_api_token_name_live), so a revoked name can be reused.
INSERT INTO api_token (name, token_hash, scopes)
VALUES (%(name)s, %(hash)s, %(scopes)s)
RETURNING id

-- name: revoke
-- Revoking keeps the row (who had access, until when), on the database clock.
UPDATE api_token SET revoked_at = now()
 WHERE name = %(name)s AND revoked_at IS NULL
RETURNING id

-- name: authenticate
-- The live token with this hash, in one round trip; its last_used_at moves
-- at most once a minute, so requests do not each write a row.
WITH found AS (
    SELECT id, name, scopes FROM api_token
     WHERE token_hash = %(hash)s AND revoked_at IS NULL
), touched AS (
    UPDATE api_token t SET last_used_at = now()
      FROM found
     WHERE t.id = found.id
       AND (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute')
)
SELECT name, scopes FROM found
