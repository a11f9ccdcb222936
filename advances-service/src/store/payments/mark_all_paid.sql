-- Records collected payments ($1) with their accounts-manager transactions
-- ($2); a payment no longer processing is left as it is. Answers the
-- payments it marked, with their advances, numbers and amounts.
UPDATE payments p SET status = 'paid', paid_at = now(), transaction_id = j.transaction_id,
lease_until = NULL, failure_reason = NULL
FROM unnest($1::uuid[], $2::uuid[]) AS j(payment_id, transaction_id)
WHERE p.id = j.payment_id AND p.status = 'processing'
RETURNING p.advance_id, p.seq, p.amount
