-- Claims the jobs' payments ($1, of advances $2) for one worker for $3
-- seconds: only a due payment of an active advance that is scheduled, or
-- processing under a lease that ran out.
UPDATE payments p SET status = 'processing', lease_until = now() + make_interval(secs => $3),
attempts = p.attempts + 1
FROM unnest($1::uuid[], $2::uuid[]) AS j(payment_id, advance_id)
WHERE p.id = j.payment_id AND p.advance_id = j.advance_id AND p.due_at <= now()
AND (p.retry_after IS NULL OR p.retry_after <= now())
AND (p.status = 'scheduled' OR (p.status = 'processing' AND p.lease_until < now()))
AND EXISTS (SELECT 1 FROM advances a WHERE a.id = p.advance_id AND a.status = 'active')
RETURNING p.*
