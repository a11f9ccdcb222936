-- How long ago, in seconds, the oldest payment of an active advance that is
-- due and not yet collected fell due (0 when there is none).
SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(p.due_at)), 0)::float8 AS seconds
FROM payments p JOIN advances a ON a.id = p.advance_id
WHERE a.status = 'active' AND p.status IN ('scheduled', 'processing') AND p.due_at <= now()
