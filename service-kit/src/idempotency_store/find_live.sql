-- The stored answers of these keys that are younger than the retention ($2,
-- in seconds). Older ones are deleted in the same statement (the caller
-- holds the keys' advisory locks), so a key past its retention is a new
-- request and its new answer can be stored under it.
WITH expired AS (
    DELETE FROM idempotency_keys
    WHERE key = ANY($1) AND created_at < now() - make_interval(secs => $2)
)
SELECT key, request_hash, response_status, response_body
FROM idempotency_keys
WHERE key = ANY($1) AND created_at >= now() - make_interval(secs => $2)
