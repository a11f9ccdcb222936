-- The stored answers of these keys that are younger than the retention ($2,
-- in seconds). Older ones are deleted in the same statement (the caller
-- holds the keys' advisory locks), so a key past its retention is a new
-- request and its new answer can be stored under it. `in_flight`: the
-- request that stored the answer is still at work on it.
WITH expired AS (
    DELETE FROM idempotency_keys
    WHERE key = ANY($1) AND created_at < now() - make_interval(secs => $2)
)
SELECT key, request_hash, response_status, response_body,
       in_flight_until IS NOT NULL AND in_flight_until > now() AS in_flight
FROM idempotency_keys
WHERE key = ANY($1) AND created_at >= now() - make_interval(secs => $2)
