-- One small batch of the sweeper: the oldest stored answers past the
-- retention ($1, in seconds), at most $2 of them. Rows another instance's
-- sweeper (or a request) holds are skipped, so any number of instances can
-- sweep at once without waiting on each other.
DELETE FROM idempotency_keys
WHERE key IN (
    SELECT key FROM idempotency_keys
    WHERE created_at < now() - make_interval(secs => $1)
    ORDER BY created_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
