-- Marks as repaid those of the (locked) advances $1 whose payments are all
-- settled and whose paid payments add up to the advance; answers them.
UPDATE advances a SET status = 'repaid', updated_at = now()
WHERE a.id = ANY($1) AND a.status = 'active'
AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.advance_id = a.id AND p.status IN ('scheduled', 'processing'))
AND a.amount = (SELECT COALESCE(sum(p.amount), 0) FROM payments p WHERE p.advance_id = a.id AND p.status = 'paid')
RETURNING a.id
