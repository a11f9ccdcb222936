-- Leases up to $2 advances whose disbursement is due for a retry for $1 seconds
-- (another scheduler skips them meanwhile).
UPDATE advances SET disburse_after = now() + make_interval(secs => $1),
disburse_attempts = disburse_attempts + 1
WHERE id IN (SELECT id FROM advances WHERE status = 'disbursing' AND disburse_after <= now()
ORDER BY disburse_after LIMIT $2 FOR UPDATE SKIP LOCKED)
RETURNING *
