-- Gives claimed payment $1 back untouched: scheduled again, to be
-- published after $2 seconds.
UPDATE payments SET status = 'scheduled', lease_until = NULL, published_at = NULL,
retry_after = now() + make_interval(secs => $2)
WHERE id = $1 AND status = 'processing'
