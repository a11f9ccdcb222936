-- Up to $2 payments that need a job, locked (skipping rows another
-- scheduler holds): due scheduled payments never published or published
-- longer than $1 seconds ago, and processing payments whose lease ran out
-- since their last job; with the trace context of each one's advance.
SELECT p.id, p.advance_id, a.traceparent FROM payments p JOIN advances a ON a.id = p.advance_id
WHERE a.status = 'active' AND p.due_at <= now() AND p.status IN ('scheduled', 'processing')
AND ((p.status = 'scheduled' AND (p.retry_after IS NULL OR p.retry_after <= now())
AND (p.published_at IS NULL OR p.published_at < now() - make_interval(secs => $1)))
OR (p.status = 'processing' AND p.lease_until < now()
AND (p.published_at IS NULL OR p.published_at < p.lease_until
OR p.published_at < now() - make_interval(secs => $1))))
ORDER BY p.due_at LIMIT $2
FOR UPDATE OF p SKIP LOCKED
